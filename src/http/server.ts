// The Koa application: request log and metrics, security headers, error pages, static assets,
// operations endpoints, Portcullis' own pages, then the protocol (oidc-provider) last.
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../log.ts';
import { errorHandler } from './errors.ts';
import { healthz, type ReadinessCheck, readyz } from './health.ts';
import { type Metrics, metricsEndpoint } from './metrics.ts';
import { requestLog } from './requestLog.ts';
import { securityHeaders } from './securityHeaders.ts';
import { staticFiles } from './staticFiles.ts';
import type { Views } from './views.ts';

export interface HttpParts {
  issuer: string;
  trustProxy: boolean;
  /** Signs cookies; oidc-provider's cookies are set through this app's context. */
  cookieKeys: string[];
  logger: Logger;
  metrics: Metrics;
  views: Views;
  readiness: ReadinessCheck[];
  /** Portcullis' own routes, in order. */
  routers: Router[];
  /** Extra middleware ahead of the routers (e.g. more static files). */
  middleware?: Koa.Middleware[];
  /** The protocol endpoints, tried after every router. */
  protocol: Koa.Middleware;
}

export function createHttpApp(parts: HttpParts): Koa {
  const koa = new Koa({ proxy: parts.trustProxy, keys: parts.cookieKeys });
  koa.use(requestLog(parts.logger, parts.metrics));
  koa.use(securityHeaders({ https: parts.issuer.startsWith('https:') }));
  koa.use(errorHandler(parts.logger, parts.views));
  koa.use(staticFiles());
  for (const m of parts.middleware ?? []) koa.use(m);
  const ops = new Router();
  ops.get('/healthz', healthz);
  ops.get('/readyz', readyz(parts.readiness));
  ops.get('/metrics', metricsEndpoint(parts.metrics));
  koa.use(ops.routes());
  for (const router of parts.routers) koa.use(router.routes()).use(router.allowedMethods());
  koa.use(parts.protocol);
  return koa;
}
