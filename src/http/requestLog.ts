// One log line per request (id, method, path, status, latency) and the request metrics. The
// query string is never logged: authorization requests and callbacks carry codes and state.
import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import type { Logger } from '../log.ts';
import { CLIENT_CLOSED_REQUEST, clientClosed } from './clientClosed.ts';
import type { Metrics } from './metrics.ts';

/** A low-cardinality name for the route: the provider's endpoint name or the router's pattern. */
function routeOf(ctx: Koa.Context): string {
  const oidcRoute = (ctx as { oidc?: { route?: string } }).oidc?.route;
  if (oidcRoute) return oidcRoute;
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof matched === 'string' ? matched : 'unmatched';
}

export function requestLog(logger: Logger, metrics: Metrics): Koa.Middleware {
  // The access line is built here from fixed fields that never hold a token or secret, so it
  // skips the redaction pass every other log line keeps (which costs more than the rest of the
  // line: some 20 µs per request).
  const access = logger.child({}, { redact: [] });
  return async (ctx, next) => {
    const start = process.hrtime.bigint();
    const id = randomUUID();
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      // A 5xx answered to a client that had already gone (oidc-provider renders an aborted body
      // read as server_error) is logged as what it was.
      const status =
        ctx.status >= 500 && clientClosed(ctx.req) ? CLIENT_CLOSED_REQUEST : ctx.status;
      const route = routeOf(ctx);
      metrics.observe(ctx.method, route, status, seconds);
      const level = status >= 500 && status !== CLIENT_CLOSED_REQUEST ? 'error' : 'info';
      access[level]({
        reqId: id,
        method: ctx.method,
        path: ctx.path,
        route,
        status,
        ms: Math.round(seconds * 1e4) / 10,
      });
    }
  };
}
