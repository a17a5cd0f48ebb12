// SQL for the apis, api_scopes and api_resource_servers tables; only the catalogue touches them.
import type { Knex } from 'knex';

export interface ApiRow {
  id: string;
  identifier: string;
  name: string;
  token_format: 'jwt' | 'opaque';
  access_token_ttl: number;
  /** RFC 9396 authorization detail types this API accepts (each belongs to one API at most). */
  detail_types: string[];
  /** The scope a resource server's client-credentials token needs to read and consume consents. */
  consent_scope: string | null;
  /** Its scopes are listed in discovery's scopes_supported. */
  public: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface ApiScopeRow {
  api_id: string;
  name: string;
  description: string;
  /** Assurance level a person must have reached for a token to carry this scope (1-3). */
  required_level: number;
}

/** A client allowed to introspect the API's tokens (one of its resource servers). */
export interface ApiResourceServerRow {
  api_id: string;
  client_id: string;
}

export interface StoredApi {
  api: ApiRow;
  scopes: ApiScopeRow[];
  resourceServers: string[];
}

const CLIENT_FK = 'api_resource_servers_client_fk';

/**
 * When `err` is the refusal of a resource server that is not a registered client (the foreign
 * key), the client id PostgreSQL names ('' when it names none); undefined for any other error.
 */
export function missingClientOf(err: unknown): string | undefined {
  const e = err as { code?: string; constraint?: string; detail?: string } | null;
  if (e?.code !== '23503' || e.constraint !== CLIENT_FK) return undefined;
  return /\(client_id\)=\((.*)\) is not present/.exec(e.detail ?? '')?.[1] ?? '';
}

/** A detail type another API already declares (found inside the writing transaction). */
export class DetailTypeTaken extends Error {
  constructor(
    readonly identifier: string,
    readonly type: string,
  ) {
    super(`detail type ${type} is declared by ${identifier}`);
    this.name = 'DetailTypeTaken';
  }
}

/** Another API (not `exceptId`) that declares one of `types`: its identifier and the type. */
async function declaringOther(
  db: Knex,
  types: string[],
  exceptId: string | undefined,
): Promise<{ identifier: string; type: string } | undefined> {
  if (types.length === 0) return undefined;
  const row = await db('apis')
    .whereRaw('detail_types && array(select jsonb_array_elements_text(?::jsonb))', [
      JSON.stringify(types),
    ])
    .modify((q) => {
      if (exceptId) q.whereNot({ id: exceptId });
    })
    .orderBy('identifier')
    .first<{ identifier: string; detail_types: string[] } | undefined>(
      'identifier',
      'detail_types',
    );
  if (!row) return undefined;
  return { identifier: row.identifier, type: types.find((t) => row.detail_types.includes(t))! };
}

/**
 * Inside a write: refuses detail types another API declares. Writes that declare types take one
 * transaction lock, so two APIs claiming the same type at once cannot both succeed.
 */
async function claimDetailTypes(trx: Knex, types: string[] | undefined, apiId: string) {
  if (!types?.length) return;
  await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['portcullis.apis.detail_types']);
  const other = await declaringOther(trx, types, apiId);
  if (other) throw new DetailTypeTaken(other.identifier, other.type);
}

const rsRows = (apiId: string, clientIds: string[]): ApiResourceServerRow[] =>
  clientIds.map((client_id) => ({ api_id: apiId, client_id }));

export function createCatalogueStore(knex: Knex) {
  const resourceServersOf = async (apiId: string, db: Knex = knex): Promise<string[]> =>
    (
      await db<ApiResourceServerRow>('api_resource_servers')
        .where({ api_id: apiId })
        .orderBy('client_id')
        .select('client_id')
    ).map((r) => r.client_id);

  return {
    async list(): Promise<{
      apis: ApiRow[];
      scopes: ApiScopeRow[];
      resourceServers: ApiResourceServerRow[];
    }> {
      const [apis, scopes, resourceServers] = await Promise.all([
        knex<ApiRow>('apis').select('*').orderBy('identifier'),
        knex<ApiScopeRow>('api_scopes').select('*').orderBy('name'),
        knex<ApiResourceServerRow>('api_resource_servers').select('*').orderBy('client_id'),
      ]);
      return { apis, scopes, resourceServers };
    },
    async findBy(where: { identifier: string } | { id: string }): Promise<StoredApi | undefined> {
      const api = await knex<ApiRow>('apis').where(where).first();
      if (!api) return undefined;
      const [scopes, resourceServers] = await Promise.all([
        knex<ApiScopeRow>('api_scopes').where({ api_id: api.id }).orderBy('name'),
        resourceServersOf(api.id),
      ]);
      return { api, scopes, resourceServers };
    },
    async insert(
      api: ApiRow,
      scopes: ApiScopeRow[],
      resourceServers: string[] = [],
    ): Promise<void> {
      await knex.transaction(async (trx) => {
        await claimDetailTypes(trx, api.detail_types, api.id);
        await trx('apis').insert(api);
        if (scopes.length) await trx('api_scopes').insert(scopes);
        if (resourceServers.length)
          await trx('api_resource_servers').insert(rsRows(api.id, resourceServers));
      });
    },
    /** Changes the API's row; scopes and resource servers, when given, are replaced whole. */
    async update(
      id: string,
      patch: Partial<ApiRow>,
      scopes: ApiScopeRow[] | undefined,
      resourceServers?: string[],
    ): Promise<void> {
      await knex.transaction(async (trx) => {
        await claimDetailTypes(trx, patch.detail_types, id);
        await trx('apis').where({ id }).update(patch);
        if (scopes) {
          // Only removed scopes are deleted: role scopes cascade from the rows that go.
          await trx('api_scopes')
            .where({ api_id: id })
            .whereNotIn(
              'name',
              scopes.map((s) => s.name),
            )
            .delete();
          if (scopes.length)
            await trx('api_scopes')
              .insert(scopes)
              .onConflict(['api_id', 'name'])
              .merge(['description', 'required_level']);
        }
        if (resourceServers) {
          await trx('api_resource_servers').where({ api_id: id }).delete();
          if (resourceServers.length)
            await trx('api_resource_servers').insert(rsRows(id, resourceServers));
        }
      });
    },
    /**
     * Adds and removes resource servers of one API in one transaction; returns the list before
     * and after (the API row is locked, so concurrent changes of one API apply one after another).
     */
    async changeResourceServers(
      id: string,
      change: { add: string[]; remove: string[]; updatedAt: Date },
    ): Promise<{ before: string[]; after: string[] } | undefined> {
      return knex.transaction(async (trx) => {
        const locked = await trx('apis').where({ id }).forUpdate().first('id');
        if (!locked) return undefined;
        const before = await resourceServersOf(id, trx);
        if (change.remove.length)
          await trx('api_resource_servers')
            .where({ api_id: id })
            .whereIn('client_id', change.remove)
            .delete();
        if (change.add.length)
          await trx('api_resource_servers')
            .insert(rsRows(id, change.add))
            .onConflict(['api_id', 'client_id'])
            .ignore();
        const after = await resourceServersOf(id, trx);
        if (after.join(' ') !== before.join(' '))
          await trx('apis').where({ id }).update({ updated_at: change.updatedAt });
        return { before, after };
      });
    },
    async delete(id: string): Promise<boolean> {
      return (await knex('apis').where({ id }).delete()) > 0;
    },
    /** The API that declares this detail type. */
    async idForDetailType(type: string): Promise<string | undefined> {
      const row = await knex('apis')
        .whereRaw('detail_types @> array[?]::text[]', [type])
        .first<{ id: string } | undefined>('id');
      return row?.id;
    },
    /** The scope names of the APIs marked public, sorted, once each. */
    async publicScopes(): Promise<string[]> {
      const rows = await knex('api_scopes as s')
        .join('apis as a', 'a.id', 's.api_id')
        .where('a.public', true)
        .distinct('s.name')
        .orderBy('s.name');
      return rows.map((r: { name: string }) => r.name);
    },
    async maxJwtTtl(): Promise<number> {
      const row = await knex('apis')
        .where({ token_format: 'jwt' })
        .max<{ max: number | null }>('access_token_ttl as max')
        .first();
      return row?.max ?? 0;
    },
  };
}
