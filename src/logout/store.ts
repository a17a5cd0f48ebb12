// SQL for logout_deliveries, the back-channel logout outbox: rows are added when sessions end,
// claimed by any instance's worker (for update skip locked, then leased), and deleted when done.
import type { Knex } from 'knex';

/** One relying party to tell that one session ended. */
export interface LogoutNotice {
  clientId: string;
  accountId: string;
  sid: string | undefined;
  reason: string;
}

/** A notice as a worker claimed it: `attempts` counts this attempt. */
export interface ClaimedDelivery extends LogoutNotice {
  id: string;
  attempts: number;
}

interface Row {
  id: string | number;
  client_id: string;
  account_id: string;
  sid: string | null;
  reason: string;
  attempts: number;
}

export function createLogoutStore(knex: Knex) {
  return {
    /** Adds notices, due at once; in the caller's transaction when given one. */
    async add(notices: LogoutNotice[], now: Date, trx?: Knex.Transaction): Promise<void> {
      if (notices.length === 0) return;
      await (trx ?? knex)('logout_deliveries').insert(
        notices.map((n) => ({
          client_id: n.clientId,
          account_id: n.accountId,
          sid: n.sid ?? null,
          reason: n.reason,
          next_attempt_at: now,
          created_at: now,
        })),
      );
    },

    /**
     * Claims up to `limit` due rows for one attempt each: rows another worker holds are skipped,
     * and a claimed row is leased until `leaseUntil` (a worker that dies mid-way leaves it to be
     * retried then: at-least-once).
     */
    async claimDue(now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]> {
      const result = (await knex.raw(
        `with due as (
           select id from logout_deliveries where next_attempt_at <= ?
           order by next_attempt_at, id limit ? for update skip locked)
         update logout_deliveries d set attempts = d.attempts + 1, next_attempt_at = ?
         from due where d.id = due.id
         returning d.id, d.client_id, d.account_id, d.sid, d.reason, d.attempts`,
        [now, limit, leaseUntil],
      )) as { rows: Row[] };
      return result.rows.map((r) => ({
        id: String(r.id),
        clientId: r.client_id,
        accountId: r.account_id,
        sid: r.sid ?? undefined,
        reason: r.reason,
        attempts: r.attempts,
      }));
    },

    /** Delivered, given up or nothing to send: the row goes (only if still this attempt's). */
    async remove(id: string, attempts: number): Promise<void> {
      await knex('logout_deliveries').where({ id, attempts }).delete();
    },

    /** Failed this attempt: tried again at `at`. */
    async retryAt(id: string, attempts: number, at: Date): Promise<void> {
      await knex('logout_deliveries').where({ id, attempts }).update({ next_attempt_at: at });
    },

    /** Rows still to deliver (for tests and the operator). */
    async pending(): Promise<ClaimedDelivery[]> {
      const rows = (await knex('logout_deliveries').orderBy('id').select()) as Row[];
      return rows.map((r) => ({
        id: String(r.id),
        clientId: r.client_id,
        accountId: r.account_id,
        sid: r.sid ?? undefined,
        reason: r.reason,
        attempts: r.attempts,
      }));
    },
  };
}

export type LogoutStore = ReturnType<typeof createLogoutStore>;
