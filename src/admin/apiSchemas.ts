// The admin API's zod schemas of /apis: an API of the catalogue with its scopes, resource servers,
// and the authorization detail types it accepts with the scope that reads and consumes them.
import { z } from 'zod';
import { DETAIL_TYPES } from '../consents/detailTypes.ts';
import { level, scopeName, time } from './schemaBlocks.ts';

export const ApiIdParams = z.strictObject({ apiId: z.uuid() });
const ScopeInput = z.strictObject({
  name: scopeName,
  description: z.string().trim().min(1).max(500),
  requiredLevel: level.default(1),
});
const resourceServers = z
  .array(z.string().min(1).max(128))
  .max(50)
  .describe(
    "client ids of the resource servers that may introspect this API's tokens (confidential clients)",
  );
const detailTypes = z
  .array(z.enum(DETAIL_TYPES))
  .max(DETAIL_TYPES.length)
  .describe(
    'RFC 9396 authorization detail types this API accepts (each type belongs to one API at most)',
  );
const consentScope = scopeName.describe(
  "the scope (one of the API's) a resource server's client-credentials token carries to read and consume its consents; required with detail types",
);
const isPublic = z.boolean().describe("its scopes are advertised in discovery's scopes_supported");
export const ApiCreate = z.strictObject({
  identifier: z.string().min(1).max(2000).describe('the token audience and RFC 8707 resource'),
  name: z.string().trim().max(200).optional(),
  tokenFormat: z.enum(['jwt', 'opaque']).default('jwt'),
  accessTokenTtl: z.int().min(60).max(86400).default(600),
  scopes: z.array(ScopeInput).min(1).max(200),
  resourceServers: resourceServers.default([]),
  detailTypes: detailTypes.default([]),
  consentScope: consentScope.optional(),
  public: isPublic.default(false),
});
export const ApiUpdate = z
  .strictObject({
    name: z.string().trim().max(200).optional(),
    tokenFormat: z.enum(['jwt', 'opaque']).optional(),
    accessTokenTtl: z.int().min(60).max(86400).optional(),
    scopes: z.array(ScopeInput).min(1).max(200).optional().describe('replaces every scope'),
    resourceServers: resourceServers.optional().describe('replaces every resource server'),
    detailTypes: detailTypes.optional().describe('replaces every detail type'),
    consentScope: consentScope.nullable().optional().describe('null removes it'),
    public: isPublic.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'change at least one field');
export const Api = z.object({
  id: z.uuid(),
  identifier: z.string(),
  name: z.string(),
  tokenFormat: z.enum(['jwt', 'opaque']),
  accessTokenTtl: z.int(),
  scopes: z.array(z.object({ name: z.string(), description: z.string(), requiredLevel: z.int() })),
  resourceServers: z
    .array(z.string())
    .describe("client ids allowed to introspect the API's tokens besides each token's own client"),
  detailTypes: z.array(z.string()).describe('authorization detail types this API accepts'),
  consentScope: z
    .string()
    .nullable()
    .describe('the scope that lets its resource servers read and consume consents'),
  public: isPublic,
  system: z.boolean().describe('defined by Portcullis itself (the admin API): read-only'),
  createdAt: time,
  updatedAt: time,
});
export const ApiList = z.object({ apis: z.array(Api) });
