// Notification mails: queued in the outbox table with the change that causes them, sent by a
// background job over SMTP (SMTP_URL) with retries. Without SMTP_URL nothing is queued.
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { isMailAddress, type MailMessage, SmtpError, type SmtpOptions, sendMail } from './smtp.ts';
import type { MailStore } from './store.ts';

/** Attempts before a mail is given up. */
const MAX_ATTEMPTS = 5;
/** How long a claimed mail is left to its sender before another may try it. */
const LEASE_MS = 5 * 60 * 1000;

export interface MailSettings {
  /** SMTP_URL; undefined: mail is off. */
  smtpUrl: string | undefined;
  /** MAIL_FROM. */
  from: string;
  /** Refuse to send in clear (production, unless the SMTP server is on loopback). */
  requireTls: boolean;
}

export function createMailOutbox({
  store,
  clock,
  logger,
  settings,
  transport = sendMail,
  tls,
}: {
  store: MailStore;
  clock: Clock;
  logger: Logger;
  settings: MailSettings;
  transport?: (options: SmtpOptions, message: MailMessage) => Promise<void>;
  tls?: SmtpOptions['tls'];
}) {
  const enabled = settings.smtpUrl !== undefined;
  return {
    enabled,

    /** Queues a plain-text mail; false (nothing queued) when mail is off or the address is unusable. */
    async enqueue(mail: { to: string; subject: string; text: string }): Promise<boolean> {
      if (!enabled || !isMailAddress(mail.to)) return false;
      await store.insert(
        { recipient: mail.to, subject: mail.subject, body: mail.text },
        new Date(clock.now()),
      );
      return true;
    },

    /** Sends the due mails (a batch); returns how many were sent. */
    async deliverDue(limit = 10): Promise<number> {
      const url = settings.smtpUrl;
      if (!url) return 0;
      const now = new Date(clock.now());
      const claimed = await store.claimDue(now, limit, new Date(now.getTime() + LEASE_MS));
      let sent = 0;
      for (const row of claimed) {
        try {
          await transport(
            { url, requireTls: settings.requireTls, tls },
            {
              from: settings.from,
              to: row.recipient,
              subject: row.subject,
              text: row.body,
              date: now,
            },
          );
          await store.markSent(row.id, new Date(clock.now()));
          sent++;
        } catch (err) {
          const error = err instanceof SmtpError ? err.message : 'SMTP delivery failed';
          const permanent = err instanceof SmtpError && err.permanent;
          // The mail id and the reason only: never the recipient or the text.
          logger.warn(
            { mail: row.id, attempts: row.attempts, reason: error },
            'notification mail not sent',
          );
          const retry = !permanent && row.attempts < MAX_ATTEMPTS;
          // 30 s, 2 min, 8 min, 32 min.
          const retryAt = new Date(clock.now() + 30_000 * 4 ** (row.attempts - 1));
          await store.markFailed(row.id, error, retry ? retryAt : undefined);
        }
      }
      return sent;
    },

    /** Deletes mails older than a week. */
    sweep: (): Promise<number> => store.sweep(new Date(clock.now() - 7 * 24 * 3600 * 1000)),
  };
}

export type MailOutbox = ReturnType<typeof createMailOutbox>;
