// Per-client request limits shared by every instance. Each instance counts in memory (a check is
// a Map lookup, no database round trip) and every `syncMs` adds its counts to client_rate_limits
// and reads every live window's total, in one statement. An instance knows the others' counts at
// most two sync intervals late, so a client can exceed its limit by what the other instances
// serve it in that time (see README "Rate limits per client").
import type { Clock } from '../clock.ts';
import { errorFacts, type Logger } from '../log.ts';
import { formatRateLimit, type RateLimit } from './rateLimit.ts';
import type { RateLimitStore, WindowCount } from './store.ts';

/** What a refusal was, for its audit event. */
export interface Refusal {
  clientId: string;
  limit: RateLimit;
  /** The endpoint refused: token, introspection, revocation, pushed_authorization_request, admin_api. */
  endpoint: string;
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
}

export interface ClientLimiterOptions {
  store: RateLimitStore;
  clock: Clock;
  logger: Logger;
  defaultLimit: RateLimit;
  syncMs: number;
  /** Records the first refusal of a client in a window (once across all instances). */
  onFirstRefusal: (refusal: Refusal & { limitText: string }) => Promise<void>;
}

export type Taken = { ok: true; release: () => void } | { ok: false; retryAfterSeconds: number };

interface WindowState extends WindowCount {
  /** The total of all instances at the last sync (this instance's synced counts included). */
  synced: number;
  /** Counted here and being sent by a sync now. */
  sending: number;
  /** Counted here since. */
  pending: number;
  /** This instance already asked to audit this window's refusal. */
  reported: boolean;
}

export function createClientLimiter(options: ClientLimiterOptions) {
  const { store, clock, logger } = options;
  const windows = new Map<string, WindowState>();
  const keyOf = (clientId: string, windowSeconds: number, windowStart: number) =>
    `${windowSeconds}:${windowStart}:${clientId}`;

  function stateOf(clientId: string, limit: RateLimit, nowMs: number, create: boolean) {
    const windowSeconds = limit.windowSeconds;
    const windowStart = Math.floor(nowMs / 1000 / windowSeconds) * windowSeconds;
    const key = keyOf(clientId, windowSeconds, windowStart);
    let state = windows.get(key);
    if (!state && create) {
      state = {
        clientId,
        windowSeconds,
        windowStart,
        requests: 0,
        synced: 0,
        sending: 0,
        pending: 0,
        reported: false,
      };
      windows.set(key, state);
    }
    return { state, windowStart, windowEnd: windowStart + windowSeconds };
  }

  const used = (s: WindowState | undefined) => (s ? s.synced + s.sending + s.pending : 0);

  let syncing: Promise<void> | undefined;
  async function syncOnce(): Promise<void> {
    const nowSeconds = Math.floor(clock.now() / 1000);
    const sent: WindowState[] = [];
    for (const s of windows.values()) {
      if (s.pending === 0) continue; // (negative: requests given back after their count was sent)
      s.sending = s.pending;
      s.pending = 0;
      sent.push(s);
    }
    let totals: WindowCount[];
    try {
      totals = await store.sync(
        sent.map((s) => ({ ...s, requests: s.sending })),
        nowSeconds,
      );
    } catch (err) {
      // Counts are kept and sent next time; meanwhile this instance limits on what it knows.
      for (const s of sent) {
        s.pending += s.sending;
        s.sending = 0;
      }
      throw err;
    }
    for (const s of sent) s.sending = 0;
    for (const total of totals) {
      const key = keyOf(total.clientId, total.windowSeconds, total.windowStart);
      const state = windows.get(key);
      if (state) state.synced = total.requests;
      else
        windows.set(key, {
          ...total,
          synced: total.requests,
          sending: 0,
          pending: 0,
          reported: false,
        });
    }
    for (const [key, s] of windows) {
      if (s.windowStart + s.windowSeconds <= nowSeconds && s.pending === 0) windows.delete(key);
    }
  }

  let timer: NodeJS.Timeout | undefined;
  /** Whether the last sync failed: an outage is logged once, and its end once. */
  let failing = false;
  const sync = (): Promise<void> => {
    syncing ??= syncOnce().finally(() => {
      syncing = undefined;
    });
    return syncing;
  };

  return {
    /** The limit of a client without one of its own (CLIENT_RATE_LIMIT). */
    defaultLimit: options.defaultLimit,

    /**
     * Takes one request from the client's current window: `release` gives it back (a request
     * whose client did not authenticate). Refused, with the seconds to wait, when it is used up.
     */
    take(clientId: string, limit: RateLimit): Taken {
      const now = clock.now();
      const { state, windowEnd } = stateOf(clientId, limit, now, true);
      if (used(state) >= limit.requests)
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(windowEnd - now / 1000)) };
      state!.pending++;
      // Given back to the window it was taken from (a negative count is sent if already synced).
      return { ok: true, release: () => void state!.pending-- };
    },

    /**
     * A request was refused: the first refusal of a client's window is audited, once across all
     * instances (one statement per client, window and instance, off the response path).
     */
    refused(refusal: Refusal): void {
      const { state, windowStart } = stateOf(refusal.clientId, refusal.limit, clock.now(), true);
      if (state!.reported) return;
      state!.reported = true;
      void store
        .claimReport(refusal.clientId, refusal.limit.windowSeconds, windowStart)
        .then((first) =>
          first
            ? options.onFirstRefusal({ ...refusal, limitText: formatRateLimit(refusal.limit) })
            : undefined,
        )
        .catch((err: Error) => {
          state!.reported = false;
          logger.error(
            { err: errorFacts(err), clientId: refusal.clientId },
            'rate limit refusal could not be audited',
          );
        });
    },

    /** Sends this instance's counts and reads everyone's; one at a time. */
    sync,

    /** Syncs every `syncMs` until stopped. */
    start(): void {
      if (timer) return;
      timer = setInterval(() => {
        sync().then(
          () => {
            if (failing) logger.info('client rate limits synced again');
            failing = false;
          },
          (err: Error) => {
            if (!failing)
              logger.warn(
                { err: errorFacts(err) },
                'client rate limits could not be synced; counting locally until the database answers',
              );
            failing = true;
          },
        );
      }, options.syncMs);
      timer.unref();
    },

    /** Stops syncing after sending what is left (nothing to send: no statement). */
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await syncing?.catch(() => undefined);
      if ([...windows.values()].some((s) => s.pending !== 0)) await sync().catch(() => undefined);
    },

    /** Deletes windows that have ended. */
    sweep: () => store.sweep(Math.floor(clock.now() / 1000)),
  };
}

export type ClientLimiter = ReturnType<typeof createClientLimiter>;
