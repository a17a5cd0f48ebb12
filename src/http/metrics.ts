// Prometheus metrics: process defaults, requests by route and status, tokens by grant type.
// One registry per app (no global state), served at /metrics.
import type Koa from 'koa';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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

export function metricsEndpoint(metrics: Metrics): Koa.Middleware {
  return async (ctx) => {
    ctx.set('Content-Type', metrics.registry.contentType);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await metrics.registry.metrics();
  };
}
