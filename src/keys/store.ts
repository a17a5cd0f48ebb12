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
  revoked_at: Date | null;
}

/**
 * The channel every instance LISTENs on (src/keys/changeNotices.ts): a change of the key ring
 * notifies it in the same transaction, so the notice is sent when, and only if, it commits.
 */
export const KEY_CHANGES_CHANNEL = 'portcullis_signing_keys';

export function createSigningKeyStore(knex: Knex) {
  return {
    async all(db: Knex = knex): Promise<SigningKeyRow[]> {
      return db('signing_keys').select('*').orderBy('activates_at', 'desc');
    },
    /** Keys still published at `now`: neither revoked nor retired yet (staged keys included). */
    async published(now: Date): Promise<SigningKeyRow[]> {
      return knex('signing_keys')
        .select('*')
        .whereNull('revoked_at')
        .where((q) => q.whereNull('retires_at').orWhere('retires_at', '>', now))
        .orderBy('activates_at', 'desc');
    },
    async insert(db: Knex, row: SigningKeyRow): Promise<void> {
      await db('signing_keys').insert(row);
    },
    /** Schedules the retirement of every other key of `alg` that has none yet. */
    async scheduleRetirement(
      db: Knex,
      alg: string,
      exceptKid: string,
      retiresAt: Date,
    ): Promise<number> {
      return db('signing_keys')
        .where({ alg })
        .whereNull('retires_at')
        .whereNot('kid', exceptKid)
        .update({ retires_at: retiresAt });
    },
    async clearRetirement(db: Knex, kid: string): Promise<void> {
      await db('signing_keys').where({ kid }).update({ retires_at: null });
    },
    async markRevoked(db: Knex, kid: string, at: Date): Promise<void> {
      await db('signing_keys').where({ kid }).whereNull('revoked_at').update({ revoked_at: at });
    },
    async updateSealed(db: Knex, kid: string, sealed: string): Promise<void> {
      await db('signing_keys').where({ kid }).update({ private_jwk_sealed: sealed });
    },
    /** Serialises key generation across instances for the length of the transaction. */
    async lock(trx: Knex.Transaction): Promise<void> {
      await trx.raw('select pg_advisory_xact_lock(?)', [KEYS_LOCK_ID]);
    },
    /** Tells every listening instance to reload its ring once `trx` commits. */
    async notifyChange(trx: Knex.Transaction, what: string): Promise<void> {
      await trx.raw('select pg_notify(?, ?)', [KEY_CHANGES_CHANNEL, what]);
    },
  };
}

const KEYS_LOCK_ID = 0x70637573; // "pcus"

export type SigningKeyStore = ReturnType<typeof createSigningKeyStore>;
