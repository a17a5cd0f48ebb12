// The admin API's zod schemas: every path parameter, query and body is validated by them (objects
// are strict, so unknown fields are refused), every response passes through them (so nothing
// undocumented leaves), and the OpenAPI document is generated from them.
import { z } from 'zod';
import { ACTOR_TYPES, OUTCOMES } from '../audit/event.ts';
import { DomainError } from '../errors.ts';
import { RING_ALGS } from '../keys/algorithms.ts';
import { MAX_REQUESTS, MAX_WINDOW_SECONDS } from '../limits/rateLimit.ts';
import { CIBA_GRANT_TYPE, CIBA_SIGNING_ALGS, DELIVERY_MODES } from '../oidc/cibaClients.ts';
import { AUTH_METHODS, validateRedirectUri } from '../oidc/clientRules.ts';
import { GRANT_TYPES } from '../oidc/grantTypes.ts';
import { PKCE_SETTINGS } from '../oidc/pkceSetting.ts';
import { SENDER_CONSTRAINTS, TLS_SUBJECT_KINDS } from '../oidc/tokenBinding.ts';
import { PROFILE_NAMES } from '../oidc/profiles.ts';
import { MAX_ALLOWANCE_SECONDS, MIN_ALLOWANCE_SECONDS } from '../oidc/registration.ts';
import { Api, ApiCreate, ApiList, ApiUpdate } from './apiSchemas.ts';
import { consentResponseSchemas } from './consentSchemas.ts';
import { level, scopeName, time } from './schemaBlocks.ts';

export { Api, ApiCreate, ApiIdParams, ApiList, ApiUpdate } from './apiSchemas.ts';

// --- Building blocks ---------------------------------------------------------------------------
const rateLimit = z
  .strictObject({
    requests: z.int().min(1).max(MAX_REQUESTS),
    windowSeconds: z.int().min(1).max(MAX_WINDOW_SECONDS),
  })
  .describe('at most `requests` per window of `windowSeconds` (fixed windows)');
const apiAccess = z
  .record(z.string().min(1).max(2000), z.array(scopeName).min(1).max(200))
  .describe('API identifier -> the scopes of that API allowed');

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

/** Whole numbers in a query string. */
const queryInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
  instance: z.string().optional(),
  error: z.string().optional().describe('the OAuth error code of authentication problems'),
  errors: z
    .array(
      z.object({
        pointer: z.string().optional().describe('JSON Pointer (RFC 6901) into the request body'),
        parameter: z.string().optional().describe('the query or path parameter'),
        detail: z.string(),
      }),
    )
    .optional(),
});

// --- Clients -----------------------------------------------------------------------------------
const profile = z
  .enum(PROFILE_NAMES)
  .describe(
    'what its requests must obey: default, or fapi2 (FAPI 2.0: PAR, private_key_jwt or mTLS, DPoP- or certificate-bound tokens)',
  );
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

// --- Users -------------------------------------------------------------------------------------
export const UserIdParams = z.strictObject({ userId: z.uuid() });
export const UserSearch = z.strictObject({
  q: z.string().max(200).optional().describe('text in the email address or name'),
  limit: queryInt(1, 500).default(50),
  offset: queryInt(0, 1_000_000).default(0),
});
export const UserCreate = z.strictObject({
  email: z.string().min(1).max(254),
  name: z.string().max(200).optional(),
  password: z.string().min(1).max(1024).describe('checked against the password policy'),
});
export const User = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  status: z.enum(['active', 'locked', 'disabled']),
  emailVerified: z.boolean(),
  hasPassword: z.boolean(),
  roles: z.array(z.string()),
  createdAt: time,
  passwordChangedAt: time.nullable(),
  lastLoginAt: time.nullable(),
});
export const UserDetail = User.extend({
  failedSignIns: z.int(),
  lockedUntil: time.nullable(),
  factors: z.object({
    totp: z.boolean(),
    webauthnCredentials: z.int(),
    recoveryCodesLeft: z.int(),
  }),
});
export const UserPage = z.object({
  users: z.array(User),
  total: z.int(),
  limit: z.int(),
  offset: z.int(),
});
export const FactorsReset = z.object({
  userId: z.uuid(),
  removed: z.object({
    totp: z.boolean(),
    webauthnCredentials: z.int(),
    recoveryCodes: z.int(),
  }),
});
export const SessionsRevoked = z.object({
  userId: z.uuid(),
  revoked: z.int().describe('sessions, grants, tokens and codes ended'),
});

// --- Roles -------------------------------------------------------------------------------------
const roleName = z.string().min(1).max(64);
export const RoleParams = z.strictObject({ name: roleName });
export const RoleMemberParams = z.strictObject({ name: roleName, userId: z.uuid() });
/** API identifier -> scopes of that API: a role's scopes are (API, scope) pairs. */
const roleScopes = z
  .record(z.string().min(1).max(2000), z.array(scopeName).max(200))
  .describe('API identifier -> the scopes of that API the role grants');
/** What a role's scopes may be given as: the map, or names each defined by exactly one API. */
const roleScopesInput = z.union([
  roleScopes,
  z
    .array(z.string().min(1).max(2200))
    .max(200)
    .describe(
      'scope names, each defined by exactly one API (or "API-identifier scope"); kept for older callers',
    ),
]);
export const RoleCreate = z.strictObject({
  name: roleName,
  description: z.string().max(500).optional(),
  scopes: roleScopesInput,
});
export const RoleUpdate = z
  .strictObject({
    description: z.string().max(500).optional(),
    scopes: roleScopesInput.optional().describe('replaces every scope'),
  })
  .refine((v) => Object.keys(v).length > 0, 'change at least one field');
export const Role = z.object({
  name: z.string(),
  description: z.string(),
  scopes: roleScopes,
  members: z.int(),
});
export const RoleList = z.object({ roles: z.array(Role) });
export const RoleMembership = z.object({
  role: z.string(),
  userId: z.uuid(),
  changed: z.boolean().describe('false when nothing needed doing'),
  roles: z.array(z.string()).describe("the user's roles now"),
});

// --- Initial access tokens (dynamic registration) ----------------------------------------------
export const InitialAccessTokenParams = z.strictObject({ id: z.uuid() });
export const InitialAccessTokenCreate = z.strictObject({
  description: z.string().trim().min(1).max(500).describe('who it is for'),
  apiAccess: apiAccess.default({}).describe('exactly what a client registered with it may access'),
  minAssuranceLevel: level.default(1),
  expiresIn: z.int().min(MIN_ALLOWANCE_SECONDS).max(MAX_ALLOWANCE_SECONDS).default(86400),
  singleUse: z.boolean().default(true),
  profile: profile
    .default('default')
    .describe('fapi2: every client registered with it is a FAPI 2.0 client'),
});
export const InitialAccessToken = z.object({
  id: z.uuid(),
  description: z.string(),
  apiAccess,
  minAssuranceLevel: z.int(),
  singleUse: z.boolean(),
  profile: profile.describe('the profile of every client registered with it'),
  createdBy: z.string(),
  createdAt: time,
  expiresAt: time,
});
export const InitialAccessTokenIssued = InitialAccessToken.extend({
  token: z.string().describe('shown only this once'),
  registrationEndpoint: z.string(),
});
export const InitialAccessTokenList = z.object({
  initialAccessTokens: z.array(InitialAccessToken),
});

// --- Audit events ------------------------------------------------------------------------------
export const AuditQuery = z.strictObject({
  since: time.optional().describe('events at or after this time'),
  until: time.optional().describe('events before this time'),
  actorType: z.enum(ACTOR_TYPES).optional(),
  actorId: z.string().max(256).optional(),
  action: z.string().max(100).optional(),
  targetType: z.string().max(256).optional(),
  targetId: z.string().max(256).optional(),
  after: queryInt(0, Number.MAX_SAFE_INTEGER).optional().describe('the next of the page before'),
  limit: queryInt(1, 500).default(100),
});
export const AuditEvent = z.object({
  seq: z.int(),
  occurredAt: time,
  actor: z.object({ type: z.enum(ACTOR_TYPES), id: z.string().nullable() }),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string() }).nullable(),
  outcome: z.enum(OUTCOMES),
  sourceIp: z.string().nullable(),
  userAgent: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});
export const AuditPage = z.object({
  events: z.array(AuditEvent),
  next: z.int().nullable().describe('pass as after for the next page; null on the last'),
});

export const OpenApiDocument = z.record(z.string(), z.unknown());

/** Named request bodies: components of the OpenAPI document (generated as input). */
export const requestSchemas = {
  ClientInput,
  ApiCreate,
  ApiUpdate,
  UserCreate,
  RoleCreate,
  RoleUpdate,
  InitialAccessTokenCreate,
};

/** Named response bodies: components of the OpenAPI document (generated as output). */
export const responseSchemas = {
  Problem,
  Client,
  ClientList,
  ClientSaved,
  ClientSecret,
  Api,
  ApiList,
  User,
  UserDetail,
  UserPage,
  FactorsReset,
  SessionsRevoked,
  Role,
  RoleList,
  RoleMembership,
  InitialAccessToken,
  InitialAccessTokenIssued,
  InitialAccessTokenList,
  AuditEvent,
  AuditPage,
  ...consentResponseSchemas,
  OpenApiDocument,
};
