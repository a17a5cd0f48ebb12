// SQL for the one-row `issuer` table: the issuer this database serves. Only src/issuer/ touches it.
import type { Knex } from 'knex';

export function createIssuerStore(knex: Knex) {
  return {
    /** The stored issuer; undefined on a database that never served one. */
    async get(db: Knex = knex): Promise<string | undefined> {
      const row = (await db('issuer').first('issuer')) as { issuer: string } | undefined;
      return row?.issuer;
    },

    /** Records `issuer` unless one is stored already; returns the one stored now. */
    async recordFirst(issuer: string): Promise<string> {
      await knex('issuer').insert({ singleton: true, issuer }).onConflict('singleton').ignore();
      return (await this.get())!;
    },

    /** Replaces the stored issuer (inside the caller's transaction); returns the previous one. */
    async replace(trx: Knex.Transaction, issuer: string): Promise<string | undefined> {
      const previous = (await trx('issuer').forUpdate().first('issuer')) as
        | { issuer: string }
        | undefined;
      await trx('issuer')
        .insert({ singleton: true, issuer, recorded_at: trx.fn.now() })
        .onConflict('singleton')
        .merge();
      return previous?.issuer;
    },
  };
}

export type IssuerStore = ReturnType<typeof createIssuerStore>;
