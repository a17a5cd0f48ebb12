// The OpenAPI 3.1 document of the consent API of resource servers, served at
// /consents/openapi.json: its two operations, the consent as an API sees it, and its problems.
import { z } from 'zod';
import { Problem as ProblemSchema } from '../admin/schemas.ts';
import { CONSENT_STATUSES } from '../consents/consents.ts';

const time = z.iso.datetime({ offset: true });

/** The consent as the API declaring its detail types sees it (consentView). */
export const ConsentView = z.object({
  id: z.string().describe('cns_ and 22 base64url characters; the consent_id claim of tokens'),
  status: z.enum(CONSENT_STATUSES),
  types: z.array(z.string()).describe("the consent's detail types this API declares"),
  authorization_details: z
    .array(z.looseObject({ type: z.string() }))
    .describe('exactly what the person saw and authorised, of this API (RFC 9396)'),
  client_id: z.string().describe('the client the person authorised'),
  subject: z.string().describe('the person: the sub their tokens carry'),
  created_at: time,
  authorised_at: time.nullable(),
  expires_at: time.nullable().describe('a payment must be consumed before; account access ends'),
  consumed_at: time.nullable(),
});

const json = (schema: z.ZodType) => {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, {
    io: 'output',
    target: 'draft-2020-12',
  }) as Record<string, unknown>;
  return rest;
};

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

const ERRORS = {
  401: problem('No access token, or an invalid one (see WWW-Authenticate)'),
  403: problem(
    "Not a client's own token (client credentials), a token of an API declaring no detail types, or without that API's consent scope",
  ),
  404: problem('No such consent, or none of its detail types is this API’s (ids cannot be probed)'),
  429: problem("The token's client has used its request limit (see Retry-After)"),
};

const idParameter = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^cns_[\\w-]{22}$' },
};

export function consentApiDocument(issuer: string): Record<string, unknown> {
  const ok = (description: string) => ({
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Consent' } } },
  });
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Portcullis consent API',
      version: '1',
      description:
        'For the APIs of the catalogue that declare authorization detail types: read a consent, and consume a one-off payment consent before executing it. ' +
        "Call it with a client-credentials access token issued by Portcullis for your API, carrying the API's consent scope (DPoP- and certificate-bound tokens as at the admin API). " +
        'Errors are RFC 9457 problem details.',
    },
    servers: [{ url: issuer }],
    security: [{ oauth2: [] }],
    paths: {
      '/consents/{id}': {
        get: {
          operationId: 'getConsent',
          summary: 'A consent of your API, with its status and authorization details',
          parameters: [idParameter],
          responses: { 200: ok('The consent'), ...ERRORS },
        },
      },
      '/consents/{id}/consume': {
        post: {
          operationId: 'consumeConsent',
          summary:
            'Consume an authorised payment consent, atomically; the same client again gets it again (idempotent)',
          parameters: [idParameter],
          responses: {
            200: ok('The consumed consent'),
            ...ERRORS,
            409: problem(
              'The consent is consumed (by another client), revoked, expired, rejected, not authorised, or an account-access consent (not consumable): the title names which',
            ),
          },
        },
      },
    },
    components: {
      schemas: { Consent: json(ConsentView), Problem: json(ProblemSchema) },
      securitySchemes: {
        oauth2: {
          type: 'oauth2',
          description:
            "A client-credentials token whose audience is your API (resource parameter, RFC 8707), with the API's consent scope.",
          flows: { clientCredentials: { tokenUrl: `${issuer}/token`, scopes: {} } },
        },
      },
    },
  };
}
