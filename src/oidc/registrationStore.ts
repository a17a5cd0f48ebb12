// SQL for registration allowances: what a client registered with an initial access token may
// access. Each is a row of oidc_artifacts beside its token, under the same key (the SHA-256 of
// the token), so it expires and is swept with it and no usable token is stored.
import type { Knex } from 'knex';

export const ALLOWANCE_MODEL = 'RegistrationAllowance';
const TOKEN_MODEL = 'InitialAccessToken';

export interface AllowancePayload {
  id: string;
  description: string;
  apiAccess: Record<string, string[]>;
  minAssuranceLevel: 1 | 2 | 3;
  singleUse: boolean;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
}

export function createRegistrationStore(knex: Knex) {
  return {
    async insert(key: string, payload: AllowancePayload): Promise<void> {
      await knex('oidc_artifacts').insert({
        model: ALLOWANCE_MODEL,
        id: key,
        payload: JSON.stringify(payload),
        expires_at: new Date(payload.expiresAt),
      });
    },

    async find(key: string, now: Date): Promise<AllowancePayload | undefined> {
      const row = await knex('oidc_artifacts')
        .where({ model: ALLOWANCE_MODEL, id: key })
        .where('expires_at', '>', now)
        .first('payload');
      return row?.payload as AllowancePayload | undefined;
    },

    /** Takes a single-use allowance and its token out: true for exactly one caller. */
    async take(key: string): Promise<boolean> {
      return knex.transaction(async (trx) => {
        const taken = await trx('oidc_artifacts')
          .where({ model: ALLOWANCE_MODEL, id: key })
          .delete()
          .returning('id');
        if (taken.length === 0) return false;
        await trx('oidc_artifacts').where({ model: TOKEN_MODEL, id: key }).delete();
        return true;
      });
    },

    async list(now: Date): Promise<AllowancePayload[]> {
      const rows = await knex('oidc_artifacts')
        .where({ model: ALLOWANCE_MODEL })
        .where('expires_at', '>', now)
        .orderBy('expires_at')
        .select('payload');
      return rows.map((r) => r.payload as AllowancePayload);
    },

    /** Deletes an allowance and its token by the allowance's id; false when there is none. */
    async revoke(id: string): Promise<boolean> {
      return knex.transaction(async (trx) => {
        const keys = (await trx('oidc_artifacts')
          .where({ model: ALLOWANCE_MODEL })
          .whereRaw("payload->>'id' = ?", [id])
          .pluck('id')) as string[];
        if (keys.length === 0) return false;
        await trx('oidc_artifacts')
          .whereIn('model', [ALLOWANCE_MODEL, TOKEN_MODEL])
          .whereIn('id', keys)
          .delete();
        return true;
      });
    },
  };
}

export type RegistrationStore = ReturnType<typeof createRegistrationStore>;
