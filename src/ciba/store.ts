// SQL for ciba_approvals: the backchannel authentication requests waiting for a person's decision
// on their account page. Decisions are single statements guarded by status and expiry.
import type { Knex } from 'knex';

export type ApprovalStatus = 'pending' | 'approved' | 'denied';

export interface ApprovalRow {
  id: string;
  client_id: string;
  client_name: string;
  account_id: string;
  auth_req_sealed: string;
  binding_message: string | null;
  scope: string;
  required_level: number;
  status: ApprovalStatus;
  failures: number;
  created_at: Date;
  expires_at: Date;
  decided_at: Date | null;
}

export function createApprovalStore(knex: Knex) {
  const table = () => knex<ApprovalRow>('ciba_approvals');
  return {
    async insert(row: ApprovalRow): Promise<void> {
      await table().insert(row);
    },

    /** The person's approvals still waiting at `now`, oldest first. */
    pendingOf: (accountId: string, now: Date): Promise<ApprovalRow[]> =>
      table()
        .where({ account_id: accountId, status: 'pending' })
        .andWhere('expires_at', '>', now)
        .orderBy('created_at', 'asc')
        .limit(50),

    /** How many of the person's approvals from this client wait at `now`. */
    async pendingCount(accountId: string, clientId: string, now: Date): Promise<number> {
      const [row] = await table()
        .where({ account_id: accountId, client_id: clientId, status: 'pending' })
        .andWhere('expires_at', '>', now)
        .count<{ count: string }[]>('* as count');
      return Number(row?.count ?? 0);
    },

    /** One pending, unexpired approval of the person. */
    pending: (id: string, accountId: string, now: Date): Promise<ApprovalRow | undefined> =>
      table()
        .where({ id, account_id: accountId, status: 'pending' })
        .andWhere('expires_at', '>', now)
        .first(),

    /** Moves a pending, unexpired approval to `status`; the row as decided, or undefined. */
    async decide(
      id: string,
      accountId: string,
      status: 'approved' | 'denied',
      now: Date,
    ): Promise<ApprovalRow | undefined> {
      const [row] = await table()
        .where({ id, account_id: accountId, status: 'pending' })
        .andWhere('expires_at', '>', now)
        .update({ status, decided_at: now })
        .returning('*');
      return row as ApprovalRow | undefined;
    },

    /** Counts a failed second factor; returns the failures so far (0: not pending any more). */
    async fail(id: string, accountId: string): Promise<number> {
      const [row] = await table()
        .where({ id, account_id: accountId, status: 'pending' })
        .increment('failures', 1)
        .returning(['failures']);
      return (row as { failures: number } | undefined)?.failures ?? 0;
    },

    /** Deletes rows expired before `before`; returns how many. */
    sweep: (before: Date): Promise<number> => table().where('expires_at', '<', before).delete(),
  };
}

export type ApprovalStore = ReturnType<typeof createApprovalStore>;
