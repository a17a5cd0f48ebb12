// Prometheus metrics: process defaults, requests by route and status, tokens by grant type.
// One registry per app (no global state), served at /metrics behind METRICS_TOKEN, or on a
// listener of its own (METRICS_PORT), or not at all.
import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import Koa from 'koa';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { QueryCounter } from '../db/queryCounter.ts';
import { errorFacts, type Logger } from '../log.ts';

export function createMetrics(queries?: QueryCounter) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  if (queries) {
    // Read at scrape time from the database handle's running totals (db/queryCounter.ts).
    new Counter({
      name: 'portcullis_db_round_trips_total',
      help: 'Queries sent to PostgreSQL over the pool, each one round trip',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(queries.roundTrips);
      },
    });
    new Counter({
      name: 'portcullis_db_statements_total',
      help: 'SQL statements sent to PostgreSQL over the pool',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(queries.statements);
      },
    });
  }
  const requests = new Histogram({
    name: 'portcullis_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'portcullis_tokens_issued_total',
    help: 'Token responses by grant type',
    labelNames: ['grant_type'] as const,
    registers: [registry],
  });
  return {
    registry,
    tokens,
    observe(method: string, route: string, status: number, seconds: number) {
      requests.labels(method, route, String(status)).observe(seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

const REALM = 'portcullis-metrics';
const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** The answer to a scrape without the right bearer token (RFC 6750). */
function refuse(ctx: Koa.Context, error: 'unauthorized' | 'invalid_token'): void {
  ctx.status = 401;
  ctx.set(
    'WWW-Authenticate',
    error === 'invalid_token'
      ? `Bearer realm="${REALM}", error="invalid_token"`
      : `Bearer realm="${REALM}"`,
  );
  ctx.set('Cache-Control', 'no-store');
  ctx.body = {
    error,
    error_description:
      error === 'invalid_token' ? 'the bearer token is not valid' : 'a bearer token is required',
  };
}

/** Serves the registry; with a token, only to `Authorization: Bearer <token>` (constant time). */
export function metricsEndpoint(metrics: Metrics, token?: string): Koa.Middleware {
  const expected = token === undefined ? undefined : sha256(token);
  return async (ctx) => {
    if (expected) {
      const [scheme, given, ...rest] = (ctx.get('authorization') || '').trim().split(/\s+/);
      if (scheme?.toLowerCase() !== 'bearer' || !given) return refuse(ctx, 'unauthorized');
      // Both sides hashed first: equal lengths, so the comparison time says nothing of the token.
      if (rest.length > 0 || !timingSafeEqual(sha256(given), expected))
        return refuse(ctx, 'invalid_token');
    }
    ctx.set('Content-Type', metrics.registry.contentType);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await metrics.registry.metrics();
  };
}

/** The app of METRICS_PORT's listener: GET /metrics and nothing else. */
export function createMetricsApp(metrics: Metrics, token: string | undefined, logger: Logger): Koa {
  const koa = new Koa();
  // One line instead of Koa's default stack trace on stderr.
  koa.silent = true;
  koa.on('error', (err: Error) => logger.error({ err: errorFacts(err) }, 'metrics listener error'));
  const router = new Router();
  router.get('/metrics', metricsEndpoint(metrics, token));
  koa.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
  });
  koa.use(router.routes()).use(router.allowedMethods());
  return koa;
}
