// SQL for mail_outbox: notification mails waiting to be sent, taken by the sender job with
// row locks (SKIP LOCKED) so that several instances never send one mail twice.
import type { Knex } from 'knex';

export interface MailRow {
  id: string;
  recipient: string;
  subject: string;
  body: string;
  attempts: number;
}

export function createMailStore(knex: Knex) {
  return {
    async insert(mail: { recipient: string; subject: string; body: string }, now: Date) {
      await knex('mail_outbox').insert({ ...mail, created_at: now, next_attempt_at: now });
    },

    /**
     * Runs `send` on each due mail (at most `limit`), inside one transaction holding their rows,
     * and records each outcome: sent, retried later, or given up (`retryAt` undefined).
     */
    async takeDue(
      now: Date,
      limit: number,
      send: (mail: MailRow) => Promise<{ ok: true } | { ok: false; error: string; retryAt?: Date }>,
    ): Promise<number> {
      return knex.transaction(async (trx) => {
        const rows = (
          (await trx.raw(
            `select id, recipient, subject, body, attempts from mail_outbox
              where sent_at is null and next_attempt_at <= ?
              order by next_attempt_at, id limit ? for update skip locked`,
            [now, limit],
          )) as { rows: MailRow[] }
        ).rows;
        let sent = 0;
        for (const row of rows) {
          const outcome = await send(row);
          if (outcome.ok) {
            sent++;
            await trx('mail_outbox')
              .where({ id: row.id })
              .update({ sent_at: now, attempts: row.attempts + 1, last_error: null });
          } else {
            await trx('mail_outbox')
              .where({ id: row.id })
              .update({
                attempts: row.attempts + 1,
                last_error: outcome.error.slice(0, 200),
                // Given up: parked far in the future, deleted by the sweep.
                next_attempt_at: outcome.retryAt ?? new Date('9999-01-01T00:00:00Z'),
              });
          }
        }
        return sent;
      });
    },

    /** Deletes mails created before `before` (sent or not); returns how many. */
    sweep: (before: Date): Promise<number> =>
      knex('mail_outbox').where('created_at', '<', before).delete(),
  };
}

export type MailStore = ReturnType<typeof createMailStore>;
