// A request whose client went away before the answer (a closed tab, a load balancer timeout, a
// load generator stopping) is not a server failure: no one receives the response. Logged as 499
// at info level, like nginx's "client closed request", so error-level lines stay real errors.
import type { IncomingMessage } from 'node:http';
import { isDatabaseUnavailable } from '../db/unavailable.ts';

/** The status logged for a request whose client closed the connection first. */
export const CLIENT_CLOSED_REQUEST = 499;

/** True for the errors Node and body parsers raise when the client closes mid-request. */
export function isClientAbort(err: unknown): boolean {
  const e = err as { code?: string; message?: string; type?: string } | undefined;
  return (
    e?.code === 'ECONNRESET' ||
    e?.code === 'ECONNABORTED' ||
    e?.type === 'request.aborted' ||
    e?.message === 'aborted' ||
    e?.message === 'request aborted'
  );
}

/**
 * True when the client's connection is already closed while the response is still being made
 * (Koa writes it after the middleware returns): the answer cannot reach anyone.
 */
export function clientClosed(req: IncomingMessage): boolean {
  return req.socket?.destroyed === true;
}

/**
 * True when `err` is the client going away, not the database: a reset of PostgreSQL's
 * connection carries the same ECONNRESET as a client closing its own, so a reset counts as the
 * client's doing only when the request's socket is closed too (else it is a clean 503).
 */
export function abortedByClient(err: unknown, req: IncomingMessage): boolean {
  if (!isClientAbort(err)) return false;
  return clientClosed(req) || !isDatabaseUnavailable(err);
}
