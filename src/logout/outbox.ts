// Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0): notices are written to
// the outbox when sessions end, and any instance's worker posts the signed logout tokens to the
// relying parties: a short timeout, no redirects, the answer's body ignored, retried with
// exponential backoff up to a limit. A person's logout never waits for a relying party.
import type { Knex } from 'knex';
import type { RecordSecurityEvent } from '../audit/recorder.ts';
import type { Clock } from '../clock.ts';
import { errorFacts, type Logger } from '../log.ts';
import type { ClaimedDelivery, LogoutNotice, LogoutStore } from './store.ts';

export interface LogoutDeliverySettings {
  /** How long a relying party has to answer one attempt. */
  timeoutMs: number;
  /** Attempts before a notice is given up (and the failure audited). */
  maxAttempts: number;
  /** Wait before the second attempt; doubled after each failure, at most an hour. */
  retrySeconds: number;
  /** Relying parties are reached over https only (production); http is then a failure. */
  httpsOnly: boolean;
}

export interface LogoutOutboxOptions {
  store: LogoutStore;
  clock: Clock;
  logger: Logger;
  record: RecordSecurityEvent;
  settings: LogoutDeliverySettings;
  /**
   * The registered back-channel logout URI of a notice's client and a freshly signed logout
   * token for it; undefined when the client (now) takes no back-channel logout.
   */
  sign(notice: LogoutNotice): Promise<{ uri: string; token: string } | undefined>;
}

const BATCH = 20;
const MAX_BACKOFF_SECONDS = 3600;

/** Why an attempt failed, in words safe for logs and the audit log (never the token). */
class DeliveryFailure extends Error {}

export function createLogoutOutbox(options: LogoutOutboxOptions) {
  const { store, clock, logger, record, settings } = options;
  let running: Promise<number> | undefined;
  let again = false;
  let stopped = false;

  async function post(uri: string, token: string): Promise<void> {
    const url = URL.parse(uri);
    if (!url || (settings.httpsOnly && url.protocol !== 'https:'))
      throw new DeliveryFailure('the back-channel logout URI is not https');
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }),
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
    } catch (err) {
      const name = (err as Error).name;
      throw new DeliveryFailure(
        name === 'TimeoutError' ? 'no answer in time' : 'the relying party could not be reached',
      );
    }
    await response.body?.cancel().catch(() => undefined);
    if (response.status !== 200 && response.status !== 204)
      throw new DeliveryFailure(`answered ${response.status}`);
  }

  async function deliver(d: ClaimedDelivery): Promise<void> {
    const target = { type: 'user', id: d.accountId };
    let signed: { uri: string; token: string } | undefined;
    try {
      signed = await options.sign(d);
      if (!signed) {
        await store.remove(d.id, d.attempts);
        return;
      }
      await post(signed.uri, signed.token);
    } catch (err) {
      const error =
        err instanceof DeliveryFailure ? err.message : 'the logout token could not be sent';
      if (!(err instanceof DeliveryFailure))
        logger.warn({ err: errorFacts(err), client: d.clientId }, 'back-channel logout failed');
      if (d.attempts >= settings.maxAttempts) {
        await store.remove(d.id, d.attempts);
        await record({
          actor: { type: 'system' },
          action: 'logout.backchannel_failed',
          target,
          outcome: 'failure',
          details: { client: d.clientId, attempt: d.attempts, error, reason: d.reason },
        });
        return;
      }
      const wait = Math.min(settings.retrySeconds * 2 ** (d.attempts - 1), MAX_BACKOFF_SECONDS);
      await store.retryAt(d.id, d.attempts, new Date(clock.now() + wait * 1000));
      logger.info(
        { client: d.clientId, attempt: d.attempts, error, retryInSeconds: wait },
        'back-channel logout will be retried',
      );
      return;
    }
    await store.remove(d.id, d.attempts);
    await record({
      actor: { type: 'system' },
      action: 'logout.backchannel_delivered',
      target,
      outcome: 'success',
      details: { client: d.clientId, attempt: d.attempts, reason: d.reason },
    });
  }

  /** Delivers every notice due now; returns how many attempts were made. */
  async function drain(): Promise<number> {
    let made = 0;
    for (;;) {
      const now = clock.now();
      // A claimed row is this worker's until the attempt is surely over.
      const lease = new Date(now + settings.timeoutMs + 60_000);
      const batch = await store.claimDue(new Date(now), lease, BATCH);
      await Promise.all(
        batch.map((d) =>
          deliver(d).catch((err) =>
            logger.warn({ err: errorFacts(err), client: d.clientId }, 'back-channel logout failed'),
          ),
        ),
      );
      made += batch.length;
      if (batch.length < BATCH) return made;
    }
  }

  /** One drain at a time per instance; a call meanwhile runs one more drain after it. */
  function deliverDue(): Promise<number> {
    if (stopped) return Promise.resolve(0);
    if (running) {
      again = true;
      return running;
    }
    running = drain().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        void deliverDue().catch(() => undefined);
      }
    });
    return running;
  }

  return {
    /** Adds notices (in the caller's transaction when given one); deliver them with `nudge`. */
    add: (notices: LogoutNotice[], trx?: Knex.Transaction) =>
      store.add(notices, new Date(clock.now()), trx),
    deliverDue,
    /** Starts a delivery soon, without waiting for it (after notices were committed). */
    nudge(): void {
      setImmediate(() => {
        deliverDue().catch((err) =>
          logger.warn({ err: errorFacts(err) }, 'back-channel logout delivery failed'),
        );
      });
    },
    /** Waits for a delivery in progress (tests). */
    async idle(): Promise<void> {
      while (running) await running.catch(() => undefined);
    },
    /** At shutdown: no new delivery starts (the rows wait for another instance); waits for one running. */
    async stop(): Promise<void> {
      stopped = true;
      while (running) await running.catch(() => undefined);
    },
  };
}

export type LogoutOutbox = ReturnType<typeof createLogoutOutbox>;
