// The OpenAPI 3.1 document of the admin API, generated from the route table and its zod schemas
// (z.toJSONSchema), so the document describes exactly what the router validates and serves.
import { z } from 'zod';
import { ADMIN_BASE_PATH, ADMIN_SCOPES } from './adminApi.ts';
import type { AnyRoute } from './route.ts';
import { requestSchemas, responseSchemas } from './schemas.ts';

type Json = Record<string, unknown>;
const REF = (id: string) => `#/components/schemas/${id}`;

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  400: 'The request is not valid (problem details name each field at fault)',
  401: 'No access token, or an invalid one (see WWW-Authenticate)',
  403: 'The access token lacks the scope this operation needs, or admin:grant-admin and each admin scope the request hands out (insufficient_scope)',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Request body too large',
  415: 'The request body is not application/json',
  429: "The token's client has used its request limit (see Retry-After)",
};

/** Every named schema as a component: request bodies as input, responses as output. */
function componentSchemas(): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [named, io] of [
    [requestSchemas, 'input'],
    [responseSchemas, 'output'],
  ] as const) {
    const registry = z.registry<{ id: string }>();
    for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
    const { schemas } = z.toJSONSchema(registry, { io, uri: REF, target: 'draft-2020-12' });
    for (const [id, schema] of Object.entries(schemas)) {
      const { $schema: _s, $id: _i, ...rest } = schema as Json;
      out[id] = rest;
    }
  }
  return out;
}

/** The name a schema is registered under; every body must have one. */
function nameOf(schema: z.ZodType, named: Record<string, z.ZodType>, where: string): string {
  const found = Object.entries(named).find(([, s]) => s === schema);
  if (!found) throw new Error(`${where}: the schema is not among the named components`);
  return found[0];
}

/** Query or path parameters: one entry per field of a strict object schema. */
function parameters(schema: z.ZodType | undefined, location: 'path' | 'query'): Json[] {
  if (!schema) return [];
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' }) as Json & {
    properties?: Record<string, Json>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: location,
      required: location === 'path' || (json.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

function problemResponse(status: number): Json {
  return {
    description: STATUS_TEXT[status] ?? 'Error',
    content: { 'application/problem+json': { schema: { $ref: REF('Problem') } } },
  };
}

function operation(route: AnyRoute): Json {
  const where = `${route.method.toUpperCase()} ${route.path}`;
  const status = route.status ?? (route.response ? 200 : 204);
  const responses: Json = {
    [status]: route.response
      ? {
          description: STATUS_TEXT[status] ?? 'OK',
          content: {
            'application/json': {
              schema: { $ref: REF(nameOf(route.response, responseSchemas, where)) },
            },
          },
        }
      : { description: STATUS_TEXT[status] ?? 'OK' },
  };
  const errors = new Set(route.errors ?? []);
  if (route.params || route.query || route.body) errors.add(400);
  if (route.body) for (const s of [413, 415]) errors.add(s);
  if (route.scope) for (const s of [401, 403, 429]) errors.add(s);
  for (const s of [...errors].sort()) responses[s] = problemResponse(s);

  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    ...(route.scope
      ? { security: [{ oauth2: [route.scope] }], 'x-required-scope': route.scope }
      : { security: [] }),
    parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
    ...(route.body
      ? {
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { $ref: REF(nameOf(route.body, requestSchemas, where)) },
              },
            },
          },
        }
      : {}),
    responses,
  };
}

export function buildOpenApi(routes: AnyRoute[], issuer: string): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    paths[route.path] ??= {};
    paths[route.path]![route.method] = operation(route);
  }
  const scopes = Object.fromEntries(ADMIN_SCOPES.map((s) => [s, s]));
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Portcullis admin API',
      version: '1',
      description:
        'Manage clients, APIs, users, roles, registration tokens and read the audit log. ' +
        `Call it with an access token issued by Portcullis for the audience ${issuer}${ADMIN_BASE_PATH}. ` +
        'Errors are RFC 9457 problem details.',
    },
    servers: [{ url: `${issuer}${ADMIN_BASE_PATH}` }],
    security: [{ oauth2: [] }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        oauth2: {
          type: 'oauth2',
          description: `Tokens for the resource ${issuer}${ADMIN_BASE_PATH}; a person must sign in at level 2 or more. A DPoP-bound token is sent as "Authorization: DPoP" with a DPoP proof (RFC 9449), a certificate-bound one as Bearer with its client certificate (RFC 8705).`,
          flows: {
            clientCredentials: { tokenUrl: `${issuer}/token`, scopes },
            authorizationCode: {
              authorizationUrl: `${issuer}/auth`,
              tokenUrl: `${issuer}/token`,
              scopes,
            },
          },
        },
      },
    },
  };
}
