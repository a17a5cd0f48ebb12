// SQL for mail_outbox: notification mails waiting to be sent. The sender claims due mails with a
// lease (one statement, SKIP LOCKED), so several instances never send one mail twice and no
// transaction stays open while a mail is on the wire; a crashed sender's lease simply runs out.
import type { Knex } from 'knex';

export interface MailRow {
  id: string;
  recipient: string;
  subject: string;
  body: string;
  attempts: number;
}

/** A given-up mail waits here for the sweep. */
const NEVER = new Date('9999-01-01T00:00:00Z');

export function createMailStore(knex: Knex) {
  return {
    async insert(mail: { recipient: string; subject: string; body: string }, now: Date) {
      await knex('mail_outbox').insert({ ...mail, created_at: now, next_attempt_at: now });
    },

    /** Claims up to `limit` due mails until `leaseUntil` (their attempt counted); returns them. */
    async claimDue(now: Date, limit: number, leaseUntil: Date): Promise<MailRow[]> {
      const result = (await knex.raw(
        `update mail_outbox set next_attempt_at = ?, attempts = attempts + 1
          where id in (
            select id from mail_outbox where sent_at is null and next_attempt_at <= ?
            order by next_attempt_at, id limit ? for update skip locked)
          returning id, recipient, subject, body, attempts`,
        [leaseUntil, now, limit],
      )) as { rows: MailRow[] };
      return result.rows;
    },

    async markSent(id: string, now: Date): Promise<void> {
      await knex('mail_outbox').where({ id }).update({ sent_at: now, last_error: null });
    },

    /** Records a failure: retried at `retryAt`, or given up when it is undefined. */
    async markFailed(id: string, error: string, retryAt: Date | undefined): Promise<void> {
      await knex('mail_outbox')
        .where({ id })
        .update({ last_error: error.slice(0, 200), next_attempt_at: retryAt ?? NEVER });
    },

    /** Deletes mails created before `before` (sent or not); returns how many. */
    sweep: (before: Date): Promise<number> =>
      knex('mail_outbox').where('created_at', '<', before).delete(),
  };
}

export type MailStore = ReturnType<typeof createMailStore>;
