// The admin API's zod schemas of OAuth clients: what an administrator sends (ClientInput, strict)
// and what the API answers; the route table feeds them to validation and the OpenAPI document.
import { z } from 'zod';
import { DomainError } from '../errors.ts';
import { RING_ALGS } from '../keys/algorithms.ts';
import { MAX_REQUESTS, MAX_WINDOW_SECONDS } from '../limits/rateLimit.ts';
import { CIBA_GRANT_TYPE, CIBA_SIGNING_ALGS, DELIVERY_MODES } from '../oidc/cibaClients.ts';
import { AUTH_METHODS, validateRedirectUri } from '../oidc/clientRules.ts';
import { GRANT_TYPES } from '../oidc/grantTypes.ts';
import { PKCE_SETTINGS } from '../oidc/pkceSetting.ts';
import { SENDER_CONSTRAINTS, TLS_SUBJECT_KINDS } from '../oidc/tokenBinding.ts';
import { apiAccess, level, profile, time } from './schemaBlocks.ts';

const rateLimit = z
  .strictObject({
    requests: z.int().min(1).max(MAX_REQUESTS),
    windowSeconds: z.int().min(1).max(MAX_WINDOW_SECONDS),
  })
  .describe('at most `requests` per window of `windowSeconds` (fixed windows)');
/** The same redirect URI rule as the client registry, reported on the exact array element. */
const redirectUri = z
  .string()
  .max(2000)
  .superRefine((uri, ctx) => {
    try {
      validateRedirectUri(uri);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
    }
  });

const tlsSubject = z
  .strictObject({
    kind: z.enum(TLS_SUBJECT_KINDS),
    value: z.string().trim().min(1).max(1000),
  })
  .describe(
    'tls_client_auth: the certificate subject DN (RFC 4514, e.g. CN=tpp,O=Bank,C=GB) or one subject alternative name it must present',
  );
const senderConstraint = z
  .enum(SENDER_CONSTRAINTS)
  .describe(
    "tokens bound to a DPoP key (RFC 9449) or to the client's TLS certificate (RFC 8705, cnf.x5t#S256)",
  );

const pkce = z.enum(PKCE_SETTINGS);
const backchannel = z
  .strictObject({
    mode: z.enum(DELIVERY_MODES).default('poll'),
    notificationEndpoint: z
      .string()
      .max(2000)
      .optional()
      .describe('ping: the https endpoint notified'),
    signingAlg: z
      .enum(CIBA_SIGNING_ALGS)
      .optional()
      .describe('requests only as request objects signed with this algorithm (fapi2: required)'),
  })
  .describe(
    `backchannel authentication (CIBA, grant ${CIBA_GRANT_TYPE}): poll or ping delivery, signed requests`,
  );

export const ClientIdParams = z.strictObject({ clientId: z.string().min(1).max(128) });

/** An algorithm of the key ring (SIGNING_ALGS); a fapi2 client is refused RS256. */
const signingAlg = z.enum(RING_ALGS);

export const ClientInput = z.strictObject({
  name: z.string().trim().min(1).max(200),
  grantTypes: z.array(z.enum(GRANT_TYPES)).min(1).max(GRANT_TYPES.length),
  redirectUris: z.array(redirectUri).max(50).optional(),
  postLogoutRedirectUris: z.array(redirectUri).max(50).optional(),
  authMethod: z.enum(AUTH_METHODS).default('client_secret_basic'),
  jwks: z
    .strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(20) })
    .optional()
    .describe(
      "the client's public keys, for private_key_jwt (and self_signed_tls_client_auth: each with its certificate in x5c)",
    ),
  jwksUri: z.string().max(2000).optional(),
  tlsSubject: tlsSubject.optional(),
  senderConstraint: senderConstraint.optional(),
  apiAccess: apiAccess.default({}),
  firstParty: z.boolean().default(false).describe('an application of your own: no consent page'),
  minAssuranceLevel: level.default(1),
  rateLimit: rateLimit
    .nullable()
    .default(null)
    .describe(
      'its own request limit at the token, introspection, revocation, PAR and admin endpoints; null: the default (CLIENT_RATE_LIMIT)',
    ),
  profile: profile
    .optional()
    .describe(
      'default, or fapi2 (FAPI 2.0). Omitted: default when created, unchanged when replaced; under FAPI_PROFILE=2.0 always fapi2',
    ),
  requireSignedRequestObject: z
    .boolean()
    .default(false)
    .describe(
      'authorization requests only as request objects signed with its keys (JAR), pushed to the PAR endpoint',
    ),
  pkce: pkce
    .default('required')
    .describe(
      'PKCE required, or optional for a confidential OpenID Connect relying party that sends no code_challenge (never a public or fapi2 client)',
    ),
  idTokenAlg: signingAlg
    .optional()
    .describe('algorithm of its ID tokens (default: SIGNING_ALGS first)'),
  userinfoAlg: signingAlg
    .optional()
    .describe('sign its UserInfo responses (JWT) with this algorithm'),
  authorizationAlg: signingAlg.optional().describe('algorithm of its JARM authorization responses'),
  introspectionAlg: signingAlg.optional().describe('algorithm of its JWT introspection responses'),
  backchannelLogoutUri: z
    .string()
    .max(2000)
    .nullable()
    .optional()
    .describe(
      'OpenID Connect Back-Channel Logout: where signed logout tokens (with sid) are POSTed; https, or http on loopback',
    ),
  frontchannelLogoutUri: z
    .string()
    .max(2000)
    .nullable()
    .optional()
    .describe(
      'OpenID Connect Front-Channel Logout: the page the signed-out page loads in an iframe (with iss and sid)',
    ),
  backchannel: backchannel.optional(),
});

export const Client = z.object({
  clientId: z.string(),
  name: z.string(),
  grantTypes: z.array(z.string()),
  redirectUris: z.array(z.string()),
  postLogoutRedirectUris: z.array(z.string()),
  authMethod: z.string(),
  jwksUri: z.string().nullable(),
  hasJwks: z.boolean(),
  apiAccess,
  firstParty: z.boolean(),
  minAssuranceLevel: z.int(),
  tlsSubject: tlsSubject.nullable(),
  senderConstraint: senderConstraint.nullable().describe('null: bearer tokens'),
  rateLimit: rateLimit.nullable().describe('null: the default (CLIENT_RATE_LIMIT)'),
  profile: profile.describe('its profile, FAPI_PROFILE included'),
  requireSignedRequestObject: z.boolean().describe('signed request objects (JAR) only'),
  pkce: pkce.describe('optional: the client may omit PKCE (shown as a warning)'),
  signing: z
    .object({
      idTokenAlg: z.string().optional(),
      userinfoAlg: z.string().optional(),
      authorizationAlg: z.string().optional(),
      introspectionAlg: z.string().optional(),
    })
    .describe('the algorithms of its signed responses; absent: the default (SIGNING_ALGS first)'),
  backchannelLogoutUri: z.string().nullable().describe('null: no back-channel logout'),
  frontchannelLogoutUri: z.string().nullable().describe('null: no front-channel logout'),
  backchannel: z
    .object({
      mode: z.enum(DELIVERY_MODES),
      notificationEndpoint: z.string().nullable(),
      signingAlg: z.string().nullable(),
    })
    .nullable()
    .describe('CIBA settings; null without the CIBA grant'),
  createdBy: z.string().describe('cli, admin-api, registration, system or quickstart'),
  createdAt: time,
  updatedAt: time,
});
export const ClientList = z.object({ clients: z.array(Client) });
export const ClientSaved = z.object({
  client: Client,
  clientSecret: z
    .string()
    .nullable()
    .describe('the new secret, shown only this once (null when none was made)'),
});
export const ClientSecret = z.object({
  clientId: z.string(),
  clientSecret: z.string().describe('shown only this once'),
});
