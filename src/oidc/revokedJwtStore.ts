// Owner of revoked_jwts: the jtis of JWT access tokens revoked one by one (RFC 7009), each kept
// until its token expires, when the sweep deletes it. Nothing else queries the table.
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';

export function createRevokedJwtStore({ knex, clock }: { knex: Knex; clock: Clock }) {
  return {
    /** Records a revoked token (again: no change). */
    async revoke(jti: string, clientId: string, expiresAt: Date): Promise<void> {
      await knex('revoked_jwts')
        .insert({ jti, client_id: clientId, expires_at: expiresAt })
        .onConflict('jti')
        .ignore();
    },

    /** True when the token with this jti was revoked. */
    async isRevoked(jti: string): Promise<boolean> {
      const row = await knex('revoked_jwts').where({ jti }).first('jti');
      return row !== undefined;
    },

    /**
     * Deletes the jtis of tokens expired more than `toleranceSeconds` ago (their tokens are
     * refused as expired from then on), `batchSize` at a time. Returns the rows deleted.
     */
    async sweep(batchSize: number, toleranceSeconds: number, maxBatches = 100): Promise<number> {
      const cutoff = new Date(clock.now() - toleranceSeconds * 1000);
      let total = 0;
      for (let i = 0; i < maxBatches; i++) {
        const result = (await knex.raw(
          `delete from revoked_jwts where jti in (
             select jti from revoked_jwts where expires_at < ? limit ? for update skip locked)`,
          [cutoff, batchSize],
        )) as { rowCount?: number; affectedRows?: number };
        const deleted = result.rowCount ?? result.affectedRows ?? 0;
        total += deleted;
        if (deleted < batchSize) break;
      }
      return total;
    },
  };
}

export type RevokedJwtStore = ReturnType<typeof createRevokedJwtStore>;
