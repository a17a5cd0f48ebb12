// The API catalogue: each API (resource server) with its identifier URI (the token audience and
// RFC 8707 resource indicator), the scopes it defines, its token format and token lifetime, and
// the clients that may introspect its tokens (its resource servers, RFC 7662 section 4).
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';
import { createTtlCache } from '../cache.ts';
import type { Clock } from '../clock.ts';
import { conflict, invalid, notFound } from '../errors.ts';
import {
  type ApiRow,
  type ApiScopeRow,
  createCatalogueStore,
  missingClientOf,
} from './catalogueStore.ts';

export interface ApiScope {
  name: string;
  description: string;
  /** Assurance level (1 password, 2 second factor, 3 phishing-resistant) this scope needs. */
  requiredLevel?: 1 | 2 | 3 | undefined;
}

export interface Api {
  id: string;
  identifier: string;
  name: string;
  tokenFormat: 'jwt' | 'opaque';
  accessTokenTtl: number;
  scopes: ApiScope[];
  /** Client ids allowed to introspect this API's tokens, sorted. */
  resourceServers: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface ApiInput {
  identifier: string;
  name?: string | undefined;
  tokenFormat?: 'jwt' | 'opaque' | undefined;
  accessTokenTtl?: number | undefined;
  scopes: ApiScope[];
  /** Client ids allowed to introspect this API's tokens (default none). */
  resourceServers?: string[] | undefined;
}

/** Scope names oidc-provider or OpenID Connect already give a meaning to. */
export const RESERVED_SCOPES = new Set([
  'openid',
  'offline_access',
  'profile',
  'email',
  'address',
  'phone',
]);
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
export const MIN_TTL = 60;
export const MAX_TTL = 24 * 3600;
export const MAX_RESOURCE_SERVERS = 50;
const CLIENT_ID = /^[\x21-\x7E]{1,128}$/;

export function validateApiIdentifier(identifier: string): string {
  const url = URL.parse(identifier);
  if (!url || !/^https?:$/.test(url.protocol) || url.hash || identifier.includes('#')) {
    throw invalid('identifier must be an absolute http(s) URI without a fragment', 'identifier');
  }
  return identifier;
}

export function validateScopes(scopes: ApiScope[]): ApiScope[] {
  if (scopes.length === 0) throw invalid('an API needs at least one scope', 'scopes');
  const seen = new Set<string>();
  for (const s of scopes) {
    if (!SCOPE_TOKEN.test(s.name)) {
      throw invalid(
        `scope "${s.name}" is not a valid scope token (printable ASCII, no spaces, quotes or backslashes)`,
        'scopes',
      );
    }
    if (RESERVED_SCOPES.has(s.name))
      throw invalid(`scope "${s.name}" is reserved by OpenID Connect`, 'scopes');
    if (seen.has(s.name)) throw invalid(`scope "${s.name}" is listed twice`, 'scopes');
    if (!s.description.trim())
      throw invalid(`scope "${s.name}" needs a description people can read`, 'scopes');
    seen.add(s.name);
  }
  return scopes;
}

/** Client ids named as an API's resource servers: well formed, each once; returned sorted. */
export function validateResourceServers(clientIds: string[]): string[] {
  if (!Array.isArray(clientIds))
    throw invalid('resource servers are a list of client ids', 'resourceServers');
  if (clientIds.length > MAX_RESOURCE_SERVERS)
    throw invalid(`at most ${MAX_RESOURCE_SERVERS} resource servers per API`, 'resourceServers');
  const seen = new Set<string>();
  for (const [i, id] of clientIds.entries()) {
    if (typeof id !== 'string' || !CLIENT_ID.test(id))
      throw invalid('a resource server is named by its client id', `resourceServers/${i}`);
    if (seen.has(id)) throw invalid(`client ${id} is listed twice`, `resourceServers/${i}`);
    seen.add(id);
  }
  return [...seen].sort();
}

/** What the catalogue needs to know of a client named as a resource server. */
export type ResourceServerLookup = (
  clientId: string,
) => Promise<{ authMethod: string } | undefined>;

/**
 * Checks that every client named as a resource server is registered and can authenticate: a
 * public client cannot prove who calls in its name, so it can never introspect others' tokens.
 * Callers that have the client registry check with it before they change the catalogue (the
 * database refuses unknown clients anyway; this names the one at fault and refuses public ones).
 */
export async function checkResourceServerClients(
  clientIds: string[],
  lookup: ResourceServerLookup,
): Promise<void> {
  for (const [i, id] of clientIds.entries()) {
    const client = await lookup(id);
    if (!client) throw invalid(`no client ${id}`, `resourceServers/${i}`);
    if (client.authMethod === 'none') {
      throw invalid(
        `client ${id} is public (it authenticates with no secret or key), so it cannot be a resource server`,
        `resourceServers/${i}`,
      );
    }
  }
}

/** Runs a catalogue write; a resource server that is not a registered client becomes a clear error. */
async function refusingUnknownClients<T>(clientIds: string[], write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const missing = missingClientOf(err);
    if (missing === undefined) throw err;
    const at = clientIds.indexOf(missing);
    throw invalid(
      missing ? `no client ${missing}` : 'a resource server is not a registered client',
      at >= 0 ? `resourceServers/${at}` : 'resourceServers',
    );
  }
}

function validateTtl(ttl: number): number {
  if (!Number.isInteger(ttl) || ttl < MIN_TTL || ttl > MAX_TTL) {
    throw invalid(
      `access token lifetime must be a whole number of seconds from ${MIN_TTL} to ${MAX_TTL}`,
      'accessTokenTtl',
    );
  }
  return ttl;
}

const toScopeRow = (apiId: string, s: ApiScope): ApiScopeRow => ({
  api_id: apiId,
  name: s.name,
  description: s.description.trim(),
  required_level: s.requiredLevel ?? 1,
});

function toApi(row: ApiRow, scopes: ApiScopeRow[], resourceServers: string[]): Api {
  return {
    id: row.id,
    identifier: row.identifier,
    name: row.name,
    tokenFormat: row.token_format,
    accessTokenTtl: row.access_token_ttl,
    scopes: scopes.map((s) => ({
      name: s.name,
      description: s.description,
      requiredLevel: s.required_level as 1 | 2 | 3,
    })),
    resourceServers,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function createCatalogue({
  knex,
  clock,
  cacheSeconds,
}: {
  knex: Knex;
  clock: Clock;
  cacheSeconds: number;
}) {
  const store = createCatalogueStore(knex);
  const cache = createTtlCache<Api | undefined>(clock, cacheSeconds * 1000);
  /** APIs Portcullis itself defines (the admin API), and their scopes: reserved for them. */
  const systemIds = new Set<string>();
  const systemScopes = new Set<string>();

  function assertNotSystem(id: string): void {
    if (systemIds.has(id))
      throw conflict('this API is managed by Portcullis itself and cannot be changed');
  }

  function assertScopesFree(scopes: ApiScope[]): void {
    for (const s of scopes) {
      if (systemScopes.has(s.name))
        throw invalid(`scope "${s.name}" is reserved for Portcullis' own API`, 'scopes');
    }
  }

  async function find(where: { identifier: string } | { id: string }): Promise<Api | undefined> {
    const found = await store.findBy(where);
    return found ? toApi(found.api, found.scopes, found.resourceServers) : undefined;
  }

  return {
    async create(input: ApiInput): Promise<Api> {
      const identifier = validateApiIdentifier(input.identifier);
      const scopes = validateScopes(input.scopes);
      assertScopesFree(scopes);
      const ttl = validateTtl(input.accessTokenTtl ?? 600);
      const format = input.tokenFormat ?? 'jwt';
      if (format !== 'jwt' && format !== 'opaque')
        throw invalid('token format must be jwt or opaque', 'tokenFormat');
      const resourceServers = validateResourceServers(input.resourceServers ?? []);
      if (await store.findBy({ identifier }))
        throw conflict(`an API with identifier ${identifier} already exists`, 'identifier');
      const now = new Date(clock.now());
      const row: ApiRow = {
        id: randomUUID(),
        identifier,
        name: input.name?.trim() || identifier,
        token_format: format,
        access_token_ttl: ttl,
        created_at: now,
        updated_at: now,
      };
      await refusingUnknownClients(input.resourceServers ?? [], () =>
        store.insert(
          row,
          scopes.map((s) => toScopeRow(row.id, s)),
          resourceServers,
        ),
      );
      cache.delete(identifier);
      return toApi(
        row,
        scopes.map((s) => toScopeRow(row.id, s)),
        resourceServers,
      );
    },

    async update(id: string, patch: Partial<Omit<ApiInput, 'identifier'>>): Promise<Api> {
      assertNotSystem(id);
      const existing = await find({ id });
      if (!existing) throw notFound('no such API');
      const scopes = patch.scopes ? validateScopes(patch.scopes) : undefined;
      if (scopes) assertScopesFree(scopes);
      const resourceServers =
        patch.resourceServers !== undefined
          ? validateResourceServers(patch.resourceServers)
          : undefined;
      const rowPatch: Partial<ApiRow> = { updated_at: new Date(clock.now()) };
      if (patch.name !== undefined) rowPatch.name = patch.name.trim() || existing.identifier;
      if (patch.tokenFormat !== undefined) rowPatch.token_format = patch.tokenFormat;
      if (patch.accessTokenTtl !== undefined)
        rowPatch.access_token_ttl = validateTtl(patch.accessTokenTtl);
      await refusingUnknownClients(patch.resourceServers ?? [], () =>
        store.update(
          id,
          rowPatch,
          scopes?.map((s) => toScopeRow(id, s)),
          resourceServers,
        ),
      );
      cache.delete(existing.identifier);
      return (await find({ id }))!;
    },

    /**
     * Adds and removes resource servers of one API (adding one already there, or removing one
     * that is not, changes nothing). Returns the API and its resource servers before the change.
     */
    async changeResourceServers(
      id: string,
      change: { add?: string[]; remove?: string[] },
    ): Promise<{ api: Api; before: string[] }> {
      assertNotSystem(id);
      const add = validateResourceServers(change.add ?? []);
      const remove = validateResourceServers(change.remove ?? []);
      const changed = await refusingUnknownClients(change.add ?? [], () =>
        store.changeResourceServers(id, { add, remove, updatedAt: new Date(clock.now()) }),
      );
      if (!changed) throw notFound('no such API');
      const api = (await find({ id }))!;
      cache.delete(api.identifier);
      return { api, before: changed.before };
    },

    async delete(id: string): Promise<Api> {
      assertNotSystem(id);
      const existing = await find({ id });
      if (!existing || !(await store.delete(id))) throw notFound('no such API');
      cache.delete(existing.identifier);
      return existing;
    },

    async list(): Promise<Api[]> {
      const { apis, scopes, resourceServers } = await store.list();
      const byApi = new Map<string, ApiScopeRow[]>();
      for (const s of scopes) byApi.set(s.api_id, [...(byApi.get(s.api_id) ?? []), s]);
      const rsByApi = new Map<string, string[]>();
      for (const r of resourceServers)
        rsByApi.set(r.api_id, [...(rsByApi.get(r.api_id) ?? []), r.client_id]);
      return apis.map((a) => toApi(a, byApi.get(a.id) ?? [], rsByApi.get(a.id) ?? []));
    },

    get: (id: string) => find({ id }),

    /** True for an API Portcullis itself defines. */
    isSystem: (id: string) => systemIds.has(id),

    /**
     * Makes sure an API Portcullis itself relies on exists under this fixed id with exactly this
     * definition, creating it or bringing it up to date (e.g. a new identifier after the issuer
     * changed). From then on people cannot change or delete it, nor define its scopes elsewhere.
     * Returns the identifier it had before when that changed.
     */
    async ensureSystemApi(
      id: string,
      input: ApiInput & { name: string },
    ): Promise<{ api: Api; previousIdentifier: string | undefined }> {
      const identifier = validateApiIdentifier(input.identifier);
      const scopes = validateScopes(input.scopes);
      const ttl = validateTtl(input.accessTokenTtl ?? 600);
      const format = input.tokenFormat ?? 'jwt';
      systemIds.add(id);
      for (const s of scopes) systemScopes.add(s.name);
      const existing = await find({ id });
      const rows = scopes.map((s) => toScopeRow(id, s)).sort((a, b) => (a.name < b.name ? -1 : 1));
      const now = new Date(clock.now());
      if (!existing) {
        const taken = await store.findBy({ identifier });
        if (taken) throw conflict(`an API with identifier ${identifier} already exists`);
        await store.insert(
          {
            id,
            identifier,
            name: input.name,
            token_format: format,
            access_token_ttl: ttl,
            created_at: now,
            updated_at: now,
          },
          rows,
        );
        return { api: (await find({ id }))!, previousIdentifier: undefined };
      }
      const same =
        existing.identifier === identifier &&
        existing.name === input.name &&
        existing.tokenFormat === format &&
        existing.accessTokenTtl === ttl &&
        isDeepStrictEqual(
          existing.scopes,
          rows.map((r) => ({
            name: r.name,
            description: r.description,
            requiredLevel: r.required_level,
          })),
        );
      if (same) return { api: existing, previousIdentifier: undefined };
      await store.update(
        id,
        {
          identifier,
          name: input.name,
          token_format: format,
          access_token_ttl: ttl,
          updated_at: now,
        },
        rows,
      );
      cache.delete(existing.identifier);
      cache.delete(identifier);
      return {
        api: (await find({ id }))!,
        previousIdentifier: existing.identifier === identifier ? undefined : existing.identifier,
      };
    },

    /** Cached: read on every token request and every introspection by a resource server. */
    findByIdentifier(identifier: string): Promise<Api | undefined> {
      return cache.get(identifier, () => find({ identifier }));
    },

    /** Longest JWT access token lifetime in the catalogue (0 when there is none). */
    maxJwtAccessTokenTtl: () => store.maxJwtTtl(),
  };
}

export type Catalogue = ReturnType<typeof createCatalogue>;
