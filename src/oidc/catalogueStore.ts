// SQL for the apis and api_scopes tables; only the catalogue touches them.
import type { Knex } from 'knex';

export interface ApiRow {
  id: string;
  identifier: string;
  name: string;
  token_format: 'jwt' | 'opaque';
  access_token_ttl: number;
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

export function createCatalogueStore(knex: Knex) {
  return {
    async list(): Promise<{ apis: ApiRow[]; scopes: ApiScopeRow[] }> {
      const [apis, scopes] = await Promise.all([
        knex<ApiRow>('apis').select('*').orderBy('identifier'),
        knex<ApiScopeRow>('api_scopes').select('*').orderBy('name'),
      ]);
      return { apis, scopes };
    },
    async findBy(
      where: { identifier: string } | { id: string },
    ): Promise<{ api: ApiRow; scopes: ApiScopeRow[] } | undefined> {
      const api = await knex<ApiRow>('apis').where(where).first();
      if (!api) return undefined;
      const scopes = await knex<ApiScopeRow>('api_scopes')
        .where({ api_id: api.id })
        .orderBy('name');
      return { api, scopes };
    },
    async insert(api: ApiRow, scopes: ApiScopeRow[]): Promise<void> {
      await knex.transaction(async (trx) => {
        await trx('apis').insert(api);
        if (scopes.length) await trx('api_scopes').insert(scopes);
      });
    },
    async update(
      id: string,
      patch: Partial<ApiRow>,
      scopes: ApiScopeRow[] | undefined,
    ): Promise<void> {
      await knex.transaction(async (trx) => {
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
      });
    },
    async delete(id: string): Promise<boolean> {
      return (await knex('apis').where({ id }).delete()) > 0;
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
