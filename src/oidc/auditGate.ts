// Holds each protocol response until the audit events recorded while serving it are committed.
// oidc-provider emits its events synchronously and never waits for a listener, so a listener's
// write is collected in the request's async context and awaited here, before the body goes out:
// the appender still groups the writes of concurrent requests into one commit. A write that
// failed (or a database out of reach) turns the response into a 503: no token leaves unaudited.
import { AsyncLocalStorage } from 'node:async_hooks';
import type Koa from 'koa';
import { asUnavailable, Unavailable } from '../db/unavailable.ts';
import { logUnavailable, sendUnavailable } from '../http/errors.ts';
import type { Views } from '../http/views.ts';
import type { Logger } from '../log.ts';

export interface AuditGate {
  /**
   * Holds the response of the request being served until `write` settles; a rejection answers
   * 503 instead. Returns false outside a protocol request (nothing to hold).
   */
  hold(write: Promise<unknown>): boolean;
  /** Wraps the protocol middleware: its response leaves only once every held write settled. */
  wrap(protocol: Koa.Middleware): Koa.Middleware;
}

export function createAuditGate({ logger, views }: { logger: Logger; views: Views }): AuditGate {
  const requests = new AsyncLocalStorage<Promise<unknown>[]>();

  /** Awaits every held write, including any held while waiting; the first failure, if any. */
  async function settle(held: Promise<unknown>[]): Promise<unknown> {
    let failure: unknown;
    while (held.length > 0) {
      for (const result of await Promise.allSettled(held.splice(0))) {
        if (result.status === 'rejected' && failure === undefined) failure = result.reason;
      }
    }
    return failure;
  }

  return {
    hold(write) {
      const held = requests.getStore();
      if (!held) return false;
      held.push(write);
      return true;
    },
    wrap(protocol) {
      return async (ctx, next) => {
        const held: Promise<unknown>[] = [];
        try {
          await requests.run(held, () => protocol(ctx, next));
        } finally {
          // Even when the provider threw, nothing of this request leaves before its events.
          const failure = await settle(held);
          if (failure !== undefined) {
            const cause =
              asUnavailable(failure) ??
              new Unavailable('audit log', String((failure as Error)?.message ?? failure));
            logUnavailable(logger, ctx as Koa.Context, cause);
            sendUnavailable(ctx as Koa.Context, views, 'json');
          }
        }
      };
    },
  };
}
