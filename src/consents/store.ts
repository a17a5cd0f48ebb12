// SQL for the consents table; only src/consents/ touches it. Every change of status is one
// conditional UPDATE, so parallel requests on any instance cannot both move the same consent.
import type { Knex } from 'knex';
import type { AuthorizationDetail } from './detailTypes.ts';

export type StoredStatus =
  | 'awaiting_authorisation'
  | 'authorised'
  | 'rejected'
  | 'consumed'
  | 'revoked'
  | 'expired';

export interface ConsentRow {
  id: string;
  client_id: string;
  account_id: string;
  grant_id: string | null;
  interaction_uid: string;
  details: AuthorizationDetail[];
  types: string[];
  canonical_hash: string;
  status: StoredStatus;
  created_at: Date;
  updated_at: Date;
  authorised_at: Date | null;
  expires_at: Date | null;
  consumed_at: Date | null;
  consumed_by: string | null;
  revoked_at: Date | null;
  revoked_by: string | null;
}

export interface ConsentFilter {
  accountId?: string | undefined;
  clientId?: string | undefined;
  status?: StoredStatus | undefined;
  limit: number;
}

export function createConsentStore(knex: Knex) {
  const rows = async (sql: string, bindings: Knex.RawBinding[]) =>
    ((await knex.raw(sql, bindings)) as { rows: ConsentRow[] }).rows;
  const one = async (sql: string, bindings: Knex.RawBinding[]) => (await rows(sql, bindings))[0];

  return {
    /**
     * Inserts a consent awaiting authorisation, unless one for the same interaction and details
     * already waits; returns the one that waits (the new row or the earlier one).
     */
    async openOrFind(row: ConsentRow): Promise<ConsentRow> {
      const inserted = await one(
        `insert into consents (id, client_id, account_id, grant_id, interaction_uid, details, types,
           canonical_hash, status, created_at, updated_at)
         values (?, ?, ?, null, ?, ?::jsonb, array(select jsonb_array_elements_text(?::jsonb)), ?,
           'awaiting_authorisation', ?, ?)
         on conflict (interaction_uid, canonical_hash) where status = 'awaiting_authorisation'
         do nothing
         returning *`,
        [
          row.id,
          row.client_id,
          row.account_id,
          row.interaction_uid,
          JSON.stringify(row.details),
          JSON.stringify(row.types),
          row.canonical_hash,
          row.created_at,
          row.updated_at,
        ],
      );
      if (inserted) return inserted;
      return (await knex<ConsentRow>('consents')
        .where({
          interaction_uid: row.interaction_uid,
          canonical_hash: row.canonical_hash,
          status: 'awaiting_authorisation',
        })
        .first())!;
    },

    find: (id: string): Promise<ConsentRow | undefined> =>
      knex<ConsentRow>('consents').where({ id }).first(),
    findByGrant: (grantId: string): Promise<ConsentRow | undefined> =>
      knex<ConsentRow>('consents').where({ grant_id: grantId }).first(),

    authorise: (
      id: string,
      change: { accountId: string; grantId: string; now: Date; expiresAt: Date | null },
    ) =>
      one(
        `update consents set status = 'authorised', grant_id = ?, authorised_at = ?,
           expires_at = ?, updated_at = ?
         where id = ? and account_id = ? and status = 'awaiting_authorisation'
         returning *`,
        [change.grantId, change.now, change.expiresAt, change.now, id, change.accountId],
      ),

    reject: (id: string, accountId: string, now: Date) =>
      one(
        `update consents set status = 'rejected', updated_at = ?
         where id = ? and account_id = ? and status = 'awaiting_authorisation'
         returning *`,
        [now, id, accountId],
      ),

    /** The one atomic step of consumption: an authorised, unexpired payment consent. */
    consume: (id: string, by: string, now: Date) =>
      one(
        `update consents set status = 'consumed', consumed_at = ?, consumed_by = ?, updated_at = ?
         where id = ? and status = 'authorised' and (expires_at is null or expires_at > ?)
           and 'payment_initiation' = any(types)
         returning *`,
        [now, by, now, id, now],
      ),

    revoke: (id: string, by: string, accountId: string | undefined, now: Date) =>
      one(
        `update consents set status = 'revoked', revoked_at = ?, revoked_by = ?, updated_at = ?
         where id = ? and status = 'authorised' and (expires_at is null or expires_at > ?)
           and (?::text is null or account_id = ?)
         returning *`,
        [now, by, now, id, now, accountId ?? null, accountId ?? null],
      ),

    /** Newest first; 'authorised' and 'expired' as they read at `now`. */
    list(filter: ConsentFilter, now: Date): Promise<ConsentRow[]> {
      const q = knex<ConsentRow>('consents')
        .select('*')
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(filter.limit);
      if (filter.accountId !== undefined) q.where({ account_id: filter.accountId });
      if (filter.clientId !== undefined) q.where({ client_id: filter.clientId });
      if (filter.status === 'authorised')
        q.where({ status: 'authorised' }).andWhere((w) =>
          w.whereNull('expires_at').orWhere('expires_at', '>', now),
        );
      else if (filter.status === 'expired')
        q.where((w) =>
          w
            .where({ status: 'expired' })
            .orWhere((x) => x.where({ status: 'authorised' }).andWhere('expires_at', '<=', now)),
        );
      else if (filter.status !== undefined) q.where({ status: filter.status });
      return q;
    },

    /** Marks authorised consents past their expiry as expired (a sweep; reads agree anyway). */
    async markExpired(now: Date, batchSize: number): Promise<number> {
      const done = await rows(
        `update consents set status = 'expired', updated_at = ?
         where id in (select id from consents where status = 'authorised' and expires_at <= ?
                      order by expires_at limit ?)
           and status = 'authorised' and expires_at <= ?
         returning id`,
        [now, now, batchSize, now],
      );
      return done.length;
    },
  };
}

export type ConsentStore = ReturnType<typeof createConsentStore>;
