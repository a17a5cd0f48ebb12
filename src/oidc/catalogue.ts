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
  refusingTakenDetailTypes,
  validateConsentScope,
  validateDetailTypes,
} from './catalogueDetails.ts';
import {
  type Api,
  type ApiInput,
  type ApiScope,
  refusingUnknownClients,
  validateApiIdentifier,
  validateResourceServers,
  validateScopes,
  validateTtl,
} from './catalogueRules.ts';
import { type ApiRow, type ApiScopeRow, createCatalogueStore } from './catalogueStore.ts';

export type { Api, ApiInput, ApiScope, ResourceServerLookup } from './catalogueRules.ts';
export {
  checkResourceServerClients,
  MAX_RESOURCE_SERVERS,
  MAX_TTL,
  MIN_TTL,
  RESERVED_SCOPES,
  validateApiIdentifier,
  validateResourceServers,
  validateScopes,
} from './catalogueRules.ts';

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
    detailTypes: [...(row.detail_types ?? [])].sort(),
    consentScope: row.consent_scope ?? undefined,
    public: row.public === true,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function publicFlag(value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalid('public must be true or false', 'public');
  return value;
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
  /** The API of each detail type; cleared whole on every change (types move between APIs). */
  const byType = createTtlCache<Api | undefined>(clock, cacheSeconds * 1000);
  /** The public APIs' scopes, for discovery; cleared with every change. */
  const published = createTtlCache<string[]>(clock, cacheSeconds * 1000);
  const forget = (...identifiers: string[]) => {
    for (const identifier of identifiers) cache.delete(identifier);
    byType.clear();
    published.clear();
  };
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
      const detailTypes = validateDetailTypes(input.detailTypes ?? []);
      const consentScope = validateConsentScope(
        input.consentScope,
        detailTypes,
        scopes.map((s) => s.name),
      );
      if (await store.findBy({ identifier }))
        throw conflict(`an API with identifier ${identifier} already exists`, 'identifier');
      const now = new Date(clock.now());
      const row: ApiRow = {
        id: randomUUID(),
        identifier,
        name: input.name?.trim() || identifier,
        token_format: format,
        access_token_ttl: ttl,
        detail_types: detailTypes,
        consent_scope: consentScope,
        public: publicFlag(input.public),
        created_at: now,
        updated_at: now,
      };
      await refusingTakenDetailTypes(() =>
        refusingUnknownClients(input.resourceServers ?? [], () =>
          store.insert(
            row,
            scopes.map((s) => toScopeRow(row.id, s)),
            resourceServers,
          ),
        ),
      );
      forget(identifier);
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
      if (patch.public !== undefined) rowPatch.public = publicFlag(patch.public);
      if (patch.accessTokenTtl !== undefined)
        rowPatch.access_token_ttl = validateTtl(patch.accessTokenTtl);
      // Detail types and the consent scope are checked as they will be after the change.
      const detailTypes =
        patch.detailTypes !== undefined
          ? validateDetailTypes(patch.detailTypes)
          : existing.detailTypes;
      const consentScope = validateConsentScope(
        patch.consentScope !== undefined ? patch.consentScope : existing.consentScope,
        detailTypes,
        (scopes ?? existing.scopes).map((s) => s.name),
      );
      if (patch.detailTypes !== undefined) rowPatch.detail_types = detailTypes;
      if (consentScope !== (existing.consentScope ?? null)) rowPatch.consent_scope = consentScope;
      await refusingTakenDetailTypes(() =>
        refusingUnknownClients(patch.resourceServers ?? [], () =>
          store.update(
            id,
            rowPatch,
            scopes?.map((s) => toScopeRow(id, s)),
            resourceServers,
          ),
        ),
      );
      forget(existing.identifier);
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
      forget(api.identifier);
      return { api, before: changed.before };
    },

    async delete(id: string): Promise<Api> {
      assertNotSystem(id);
      const existing = await find({ id });
      if (!existing || !(await store.delete(id))) throw notFound('no such API');
      forget(existing.identifier);
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
            detail_types: [],
            consent_scope: null,
            public: false,
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
      forget(existing.identifier, identifier);
      return {
        api: (await find({ id }))!,
        previousIdentifier: existing.identifier === identifier ? undefined : existing.identifier,
      };
    },

    /** Cached: read on every token request and every introspection by a resource server. */
    findByIdentifier(identifier: string): Promise<Api | undefined> {
      return cache.get(identifier, () => find({ identifier }));
    },

    /** The API that declares this authorization detail type (cached like findByIdentifier). */
    apiForDetailType(type: string): Promise<Api | undefined> {
      return byType.get(type, async () => {
        const id = await store.idForDetailType(type);
        return id ? find({ id }) : undefined;
      });
    },

    /** The scopes of the APIs marked public (discovery's scopes_supported); cached. */
    publicScopes: (): Promise<string[]> => published.get('*', () => store.publicScopes()),

    /** Longest JWT access token lifetime in the catalogue (0 when there is none). */
    maxJwtAccessTokenTtl: () => store.maxJwtTtl(),
  };
}

export type Catalogue = ReturnType<typeof createCatalogue>;
