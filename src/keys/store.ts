// SQL for the signing_keys table; only src/keys/ touches it.
import type { Knex } from 'knex';

export interface SigningKeyRow {
  kid: string;
  alg: string;
  public_jwk: Record<string, unknown>;
  private_jwk_sealed: string;
  created_at: Date;
  activates_at: Date;
  retires_at: Date | null;
}

export function createSigningKeyStore(knex: Knex) {
  return {
    async all(db: Knex = knex): Promise<SigningKeyRow[]> {
      return db('signing_keys').select('*').orderBy('activates_at', 'desc');
    },
    /** Keys still published at `now`: not retired yet (staged keys included). */
    async published(now: Date): Promise<SigningKeyRow[]> {
      return knex('signing_keys')
        .select('*')
        .where((q) => q.whereNull('retires_at').orWhere('retires_at', '>', now))
        .orderBy('activates_at', 'desc');
    },
    async insert(db: Knex, row: SigningKeyRow): Promise<void> {
      await db('signing_keys').insert(row);
    },
    /** Schedules the retirement of every other key that has none yet. */
    async scheduleRetirement(db: Knex, exceptKid: string, retiresAt: Date): Promise<number> {
      return db('signing_keys')
        .whereNull('retires_at')
        .whereNot('kid', exceptKid)
        .update({ retires_at: retiresAt });
    },
    async updateSealed(db: Knex, kid: string, sealed: string): Promise<void> {
      await db('signing_keys').where({ kid }).update({ private_jwk_sealed: sealed });
    },
    /** Serialises key generation across instances for the length of the transaction. */
    async lock(trx: Knex.Transaction): Promise<void> {
      await trx.raw('select pg_advisory_xact_lock(?)', [KEYS_LOCK_ID]);
    },
  };
}

const KEYS_LOCK_ID = 0x70637573; // "pcus"

export type SigningKeyStore = ReturnType<typeof createSigningKeyStore>;
