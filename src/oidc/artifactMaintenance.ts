// The statements on oidc_artifacts off the token path: grant listing and revocation, registration
// allowances and the sweep. Part of the artefact store (artifactStore.ts), the table's one owner.
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';

/** Told of the sessions a revocation deletes (their payloads), inside its transaction. */
export type SessionsEnded = (trx: Knex.Transaction, sessions: unknown[]) => Promise<void>;

/** Deletes an account's sessions, telling `ended` of them; returns how many. */
async function endSessionsIn(trx: Knex.Transaction, accountId: string, ended?: SessionsEnded) {
  const rows = (await trx('oidc_artifacts')
    .where({ model: 'Session', account_id: accountId })
    .delete()
    .returning('payload')) as { payload: unknown }[];
  await ended?.(
    trx,
    rows.map((r) => r.payload),
  );
  return rows.length;
}

const ALLOWANCE_MODEL = 'RegistrationAllowance';
/** The device a session signed in from (src/oidc/sessionDevices.ts), keyed by the session's uid. */
export const SESSION_DEVICE = 'SessionDevice';
const INITIAL_ACCESS_TOKEN = 'InitialAccessToken';

export interface ArtifactMaintenanceOptions {
  knex: Knex;
  clock: Clock;
  /** Seconds a row outlives its expiry (the provider's clock tolerance). */
  clockToleranceSeconds: number;
}

/** Deletes every artefact issued from these grants, and the grants; returns rows deleted. */
async function deleteGrants(trx: Knex.Transaction, grantIds: string[]): Promise<number> {
  if (grantIds.length === 0) return 0;
  const issued = await trx('oidc_artifacts').whereIn('grant_id', grantIds).delete();
  const grants = await trx('oidc_artifacts')
    .where('model', 'Grant')
    .whereIn('id', grantIds)
    .delete();
  return issued + grants;
}

/**
 * The live Grants (as `g`) of the account `account` at `now`, both SQL expressions: a person's
 * grants here, and in the read-ahead of a login step (artifactBatches.ts).
 */
export const LIVE_GRANTS_OF = (account: string, now: string) =>
  `g.model = 'Grant' and g.account_id = ${account}
   and (g.expires_at is null or g.expires_at > ${now})`;

export function createArtifactMaintenance(options: ArtifactMaintenanceOptions) {
  const { knex, clock } = options;
  return {
    // --- Grants: what people authorised, and revocation -----------------------------------------

    /** Live grants of an account. */
    async grantsOf(accountId: string): Promise<{ id: string; payload: object }[]> {
      const { rows } = (await knex.raw(
        `select g.id, g.payload from oidc_artifacts g where ${LIVE_GRANTS_OF('?', '?')}`,
        [accountId, new Date(clock.now())],
      )) as { rows: { id: string; payload: object }[] };
      return rows;
    },

    /** Revokes an account's grants for a client and what was issued from them; grants revoked. */
    async revokeAccountClient(accountId: string, clientId: string): Promise<number> {
      return knex.transaction(async (trx) => {
        const grantIds = (await trx('oidc_artifacts')
          .where({ model: 'Grant', account_id: accountId, client_id: clientId })
          .pluck('id')) as string[];
        await deleteGrants(trx, grantIds);
        return grantIds.length;
      });
    },

    /** One grant and everything issued from it (tokens, codes); returns the rows deleted. */
    revokeGrant: (grantId: string): Promise<number> =>
      knex.transaction((trx) => deleteGrants(trx, [grantId])),

    /** Every session, grant, token and code of an account (`ended`: see SessionsEnded). */
    async revokeAccount(accountId: string, ended?: SessionsEnded): Promise<number> {
      return knex.transaction(async (trx) => {
        const grantIds = (await trx('oidc_artifacts')
          .where({ model: 'Grant', account_id: accountId })
          .pluck('id')) as string[];
        const deleted =
          (await deleteGrants(trx, grantIds)) + (await endSessionsIn(trx, accountId, ended));
        return deleted + (await trx('oidc_artifacts').where({ account_id: accountId }).delete());
      });
    },

    /** Every session of an account, its grants and tokens kept; returns how many ended. */
    endSessions: (accountId: string, ended?: SessionsEnded): Promise<number> =>
      knex.transaction((trx) => endSessionsIn(trx, accountId, ended)),

    /**
     * Every grant of a client (every person's) with what was issued from it, and every other
     * artefact issued to the client (client credentials tokens, registration access tokens,
     * pushed requests); returns the rows deleted.
     */
    async revokeClient(clientId: string): Promise<number> {
      return knex.transaction(async (trx) => {
        const grantIds = (await trx('oidc_artifacts')
          .where({ model: 'Grant', client_id: clientId })
          .pluck('id')) as string[];
        const deleted = await deleteGrants(trx, grantIds);
        return deleted + (await trx('oidc_artifacts').where({ client_id: clientId }).delete());
      });
    },

    // --- Sessions: a person's signed-in browsers, ended one at a time ------------------------

    /**
     * Live sessions of an account (their payloads: uid, iat, exp, loginTs, acr, authorizations),
     * each with the device noted at its sign-in, if any.
     */
    async sessionsOf(
      accountId: string,
    ): Promise<(Record<string, unknown> & { device?: Record<string, unknown> })[]> {
      const rows = (await knex('oidc_artifacts')
        .where({ account_id: accountId })
        .whereIn('model', ['Session', SESSION_DEVICE])
        .where('expires_at', '>', new Date(clock.now()))
        .select('model', 'session_uid', 'payload')) as {
        model: string;
        session_uid: string;
        payload: Record<string, unknown>;
      }[];
      const devices = new Map(
        rows.filter((r) => r.model === SESSION_DEVICE).map((r) => [r.session_uid, r.payload]),
      );
      return rows
        .filter((r) => r.model === 'Session')
        .map((r) => ({ ...r.payload, device: devices.get(r.session_uid) }));
    },

    /**
     * Ends one session of an account and what expires with it (codes and tokens bound to the
     * session); `ended`: see SessionsEnded. False when the account has no such session.
     */
    async endSession(accountId: string, uid: string, ended?: SessionsEnded): Promise<boolean> {
      return knex.transaction(async (trx) => {
        const rows = (await trx('oidc_artifacts')
          .where({ model: 'Session', account_id: accountId, session_uid: uid })
          .delete()
          .returning('payload')) as { payload: unknown }[];
        if (rows.length === 0) return false;
        await ended?.(
          trx,
          rows.map((r) => r.payload),
        );
        await trx('oidc_artifacts')
          .where({ account_id: accountId })
          .whereRaw("payload->>'sessionUid' = ? and payload->>'expiresWithSession' = 'true'", [uid])
          .delete();
        await trx('oidc_artifacts').where({ model: SESSION_DEVICE, session_uid: uid }).delete();
        return true;
      });
    },

    // --- Registration allowances: a row beside its initial access token, under the same key ---

    allowances: {
      async insert(key: string, payload: object, expiresAt: Date): Promise<void> {
        await knex('oidc_artifacts').insert({
          model: ALLOWANCE_MODEL,
          id: key,
          payload: JSON.stringify(payload),
          expires_at: expiresAt,
        });
      },

      async find<T extends object>(key: string): Promise<T | undefined> {
        const row = await knex('oidc_artifacts')
          .where({ model: ALLOWANCE_MODEL, id: key })
          .where('expires_at', '>', new Date(clock.now()))
          .first('payload');
        return row?.payload as T | undefined;
      },

      /** Takes a single-use allowance and its token out: true for exactly one caller. */
      async take(key: string): Promise<boolean> {
        return knex.transaction(async (trx) => {
          const taken = await trx('oidc_artifacts')
            .where({ model: ALLOWANCE_MODEL, id: key })
            .delete()
            .returning('id');
          if (taken.length === 0) return false;
          await trx('oidc_artifacts').where({ model: INITIAL_ACCESS_TOKEN, id: key }).delete();
          return true;
        });
      },

      /** Allowances not yet expired, soonest to expire first. */
      async list<T extends object>(): Promise<T[]> {
        const list = await knex('oidc_artifacts')
          .where({ model: ALLOWANCE_MODEL })
          .where('expires_at', '>', new Date(clock.now()))
          .orderBy('expires_at')
          .select('payload');
        return list.map((r) => r.payload as T);
      },

      /** Deletes an allowance and its token by the allowance's own id; false when there is none. */
      async revoke(id: string): Promise<boolean> {
        return knex.transaction(async (trx) => {
          const keys = (await trx('oidc_artifacts')
            .where({ model: ALLOWANCE_MODEL })
            .whereRaw("payload->>'id' = ?", [id])
            .pluck('id')) as string[];
          if (keys.length === 0) return false;
          await trx('oidc_artifacts')
            .whereIn('model', [ALLOWANCE_MODEL, INITIAL_ACCESS_TOKEN])
            .whereIn('id', keys)
            .delete();
          return true;
        });
      },
    },

    // --- Housekeeping ---------------------------------------------------------------------------

    /**
     * Deletes rows past expiry plus clock tolerance, `batchSize` at a time, so no statement holds
     * locks for long. Returns the number of rows deleted.
     */
    async sweepExpired(batchSize: number, maxBatches = 100): Promise<number> {
      const cutoff = new Date(clock.now() - options.clockToleranceSeconds * 1000);
      let total = 0;
      for (let i = 0; i < maxBatches; i++) {
        const result = (await knex.raw(
          `delete from oidc_artifacts where ctid in (
             select ctid from oidc_artifacts where expires_at < ? limit ? for update skip locked)`,
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
