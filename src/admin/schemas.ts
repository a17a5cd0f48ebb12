// The admin API's zod schemas: every path parameter, query and body is validated by them (objects
// are strict, so unknown fields are refused), every response passes through them (so nothing
// undocumented leaves), and the OpenAPI document is generated from them.
import { z } from 'zod';
import { ACTOR_TYPES, OUTCOMES } from '../audit/event.ts';
import { MAX_ALLOWANCE_SECONDS, MIN_ALLOWANCE_SECONDS } from '../oidc/registration.ts';
import { Api, ApiCreate, ApiList, ApiUpdate } from './apiSchemas.ts';
import { Client, ClientInput, ClientList, ClientSaved, ClientSecret } from './clientSchemas.ts';
import { consentResponseSchemas } from './consentSchemas.ts';
import { apiAccess, level, profile, scopeName, time } from './schemaBlocks.ts';

export { Api, ApiCreate, ApiIdParams, ApiList, ApiUpdate } from './apiSchemas.ts';

// --- Building blocks ---------------------------------------------------------------------------

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
