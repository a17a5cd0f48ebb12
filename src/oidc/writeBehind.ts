// Holds back the artefact writes of one request (requestWrites.ts) and sends them in one statement
// once the request's work is done, before its response leaves: Koa writes the response only after
// the middleware chain has resolved, so no response announces an artefact that is not committed.
// When that statement fails, the response prepared is dropped and the request fails as a failed
// save fails (503 while the database is out of reach, a generic error otherwise).
import type Koa from 'koa';
import { asUnavailable } from '../db/unavailable.ts';
import type { RequestWrites } from './requestWrites.ts';

/** What a request whose writes could not be committed answers (it may throw). */
export type FlushFailed = (ctx: Koa.Context, err: unknown) => void;

/**
 * Runs `inner` with its artefact writes held back, then flushes them. Nested in another request
 * that already holds its writes, it only runs `inner` (the outer one flushes).
 */
export function holdArtifactWrites(
  writes: Pick<RequestWrites, 'heldFor' | 'begin'>,
  failed: FlushFailed,
  inner: Koa.Middleware = (_ctx, next) => next(),
): Koa.Middleware {
  return async (ctx, next) => {
    if (writes.heldFor(ctx)) return inner(ctx, next);
    const request = writes.begin(ctx);
    let thrown: { err: unknown } | undefined;
    try {
      await request.run(() => inner(ctx, next));
    } catch (err) {
      thrown = { err };
    }
    try {
      // Also when the request failed: what it wrote before failing is kept, as it was before.
      await request.flush();
    } catch (err) {
      if (thrown) throw thrown.err;
      // Nothing of what was prepared may reach the client: not its redirect, not its cookies.
      ctx.remove('Location');
      ctx.remove('Set-Cookie');
      ctx.body = null;
      failed(ctx as Koa.Context, err);
      return;
    }
    if (thrown) throw thrown.err;
  };
}

/**
 * At the protocol endpoints: a database out of reach answers 503 through the audit gate, as the
 * provider's own failed saves do (src/oidc/events.ts); anything else goes to the error pages.
 */
export function failThroughGate(hold: (write: Promise<unknown>) => boolean): FlushFailed {
  return (_ctx, err) => {
    const unavailable = asUnavailable(err);
    if (unavailable) {
      const refused = Promise.reject(unavailable);
      refused.catch(() => {}); // answered by the gate
      if (hold(refused)) return;
    }
    throw err;
  };
}

/** On Portcullis' own pages: thrown, for the error pages to answer (503 while out of reach). */
export const failToErrorPages: FlushFailed = (_ctx, err) => {
  throw err;
};
