// Hears key-ring changes the moment another process commits them (a `keys revoke` must not wait
// for the next KEYS_REFRESH_SECONDS poll): one PostgreSQL connection of its own LISTENs, and
// comes back after a database outage, catching up on whatever it missed meanwhile. The same
// connection carries other channels (client changes) so an instance keeps one listener.
import pg from 'pg';
import { errorFacts, type Logger } from '../log.ts';
import { KEY_CHANGES_CHANNEL } from './store.ts';

/** How the listening connection shows in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'portcullis-key-changes';

/** Another channel heard on the key-change connection. */
export interface ChangeChannel {
  /** A change committed elsewhere; `payload` as NOTIFY sent it. */
  onNotice(payload: string): void;
  /** Notices may have been missed (the connection was lost, or is listening again). */
  onGap(): void;
}

export interface KeyChangeListenerOptions {
  connection: pg.ClientConfig;
  /** Reloads the ring: on each notice, and after each (re)connection. Never run twice at once by this module. */
  onChange: () => Promise<unknown>;
  logger: Logger;
  /** Wait before reconnecting: doubles from `minMs` up to `maxMs`. */
  retry?: { minMs: number; maxMs: number };
  /** Other channels, by name (a plain SQL identifier). */
  channels?: Record<string, ChangeChannel>;
}

export interface KeyChangeListener {
  /** Resolves once the first LISTEN is in place (or the first attempt failed: it keeps trying). */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export function listenForKeyChanges(options: KeyChangeListenerOptions): KeyChangeListener {
  const { logger } = options;
  const retry = options.retry ?? { minMs: 500, maxMs: 30_000 };
  const channels = options.channels ?? {};
  const gap = () => {
    for (const channel of Object.values(channels)) channel.onGap();
  };
  let delay = retry.minMs;
  let stopped = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;

  // One reload at a time; a notice during a reload asks for exactly one more after it.
  let running: Promise<void> | undefined;
  let again = false;
  function reload(): void {
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await options.onChange();
        } catch (err) {
          const e = err as Error;
          logger.warn(
            { err: errorFacts(e) },
            'reloading the signing keys after a change notice failed',
          );
        }
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
  }

  async function connect(): Promise<void> {
    timer = undefined;
    if (stopped) return;
    const c = new pg.Client({
      ...options.connection,
      application_name: LISTENER_APPLICATION_NAME,
      // A connection that dies without a word (a network partition) is noticed too.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    client = c;
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (client === c) client = undefined;
      c.removeAllListeners('notification');
      c.end().catch(() => {});
      gap();
      if (stopped) return;
      logger.warn(
        { err: errorFacts(err), retryInMs: delay },
        'change notices (signing keys, clients) interrupted: reconnecting (the periodic key refresh and CACHE_SECONDS still apply)',
      );
      timer = setTimeout(() => void connect(), delay);
      timer.unref();
      delay = Math.min(delay * 2, retry.maxMs);
    };
    c.on('error', onLost);
    c.on('end', () => onLost());
    c.on('notification', (notice) => {
      if (notice.channel === KEY_CHANGES_CHANNEL) reload();
      else if (Object.hasOwn(channels, notice.channel))
        channels[notice.channel]!.onNotice(notice.payload ?? '');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${KEY_CHANGES_CHANNEL}`);
      for (const name of Object.keys(channels)) await c.query(`LISTEN ${name}`);
    } catch (err) {
      onLost(err as Error);
      return;
    }
    if (stopped) {
      await c.end().catch(() => {});
      return;
    }
    delay = retry.minMs;
    // Anything committed before the LISTEN (at start, or while disconnected) is picked up now.
    reload();
    gap();
  }

  const ready = connect();
  return {
    ready,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await ready;
      const live = client;
      client = undefined;
      await live?.end().catch(() => {});
      await running;
    },
  };
}
