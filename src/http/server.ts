// The Koa application: the client's address and ISSUER's origin, request log and metrics, security headers, error
// pages, static assets, operations endpoints, Portcullis' own pages, then the protocol last.
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import Router from '@koa/router';
import Koa from 'koa';
import compose from 'koa-compose';
import { errorFacts, type Logger } from '../log.ts';
import { createClientAddress, type TrustedProxies } from './clientAddress.ts';
import { isClientAbort } from './clientClosed.ts';
import { unmatched } from './endpointFormat.ts';
import { errorHandler } from './errors.ts';
import { healthz, type ReadinessCheck, readyz } from './health.ts';
import { inputGuard } from './inputGuard.ts';
import { type AliasOrigin, aliasEndpointsOnly, issuerOrigin } from './issuerOrigin.ts';
import { type Metrics, metricsEndpoint } from './metrics.ts';
import { type PublicationTiming, publicationCache } from './publicationCache.ts';
import { requestLog } from './requestLog.ts';
import { secureTransport } from './secureTransport.ts';
import { securityHeaders } from './securityHeaders.ts';
import { staticFiles } from './staticFiles.ts';
import type { Views } from './views.ts';

/** oidc-provider's default routes of what relying parties fetch and cache. */
const DISCOVERY_PATH = '/.well-known/openid-configuration';
const JWKS_PATH = '/jwks';

export interface HttpParts {
  issuer: string;
  /** Whose X-Forwarded-* headers to believe (TRUSTED_PROXIES). */
  trustedProxies: TrustedProxies;
  /** The header a trusted proxy forwards the client certificate in (removed from anyone else's requests). */
  certificateHeader?: string | undefined;
  /** The mTLS endpoint aliases' origin (MTLS_ORIGIN) and its paths. */
  mtlsAlias?: AliasOrigin | undefined;
  /** Signs cookies; oidc-provider's cookies are set through this app's context. */
  cookieKeys: string[];
  logger: Logger;
  metrics: Metrics;
  /** /metrics on this listener, behind this bearer token; undefined: not served here. */
  metricsToken: string | undefined;
  views: Views;
  readiness: ReadinessCheck[];
  /** Key-rotation timing that bounds how long discovery and JWKS may be cached. */
  publication: PublicationTiming;
  /** Portcullis' own routes, in order. */
  routers: Router[];
  /** Extra middleware ahead of the routers (e.g. more static files). */
  middleware?: Koa.Middleware[];
  /** The protocol endpoints, tried after every router. */
  protocol: Koa.Middleware;
  /**
   * Paths of the protocol's busiest endpoints (token, introspection, ...): a request for one that
   * no router has a route for goes past the routers without each matching it against its routes.
   */
  protocolPaths?: ReadonlySet<string>;
}

/**
 * The routers as one middleware, skipped for the protocol paths none of them knows (checked once
 * here: a router with a route for such a path, whatever its method, keeps seeing it).
 */
function routersFor(routers: Router[], protocolPaths: ReadonlySet<string>): Koa.Middleware {
  const each = compose(
    routers.flatMap((r) => [r.routes(), r.allowedMethods()]) as unknown as Koa.Middleware[],
  );
  const unrouted = new Set(
    [...protocolPaths].filter((path) =>
      routers.every((r) => r.match(path, 'GET').path.length === 0),
    ),
  );
  return (ctx, next) => (unrouted.has(ctx.path) ? next() : each(ctx, next));
}

export function createHttpApp(parts: HttpParts): Koa {
  const client = createClientAddress(
    parts.trustedProxies,
    parts.certificateHeader ? [parts.certificateHeader] : [],
  );
  const koa = new Koa({ proxy: client.proxy, keys: parts.cookieKeys });
  koa.use(client.middleware);
  koa.use(issuerOrigin(parts.issuer, parts.mtlsAlias));
  koa.use(requestLog(parts.logger, parts.metrics));
  koa.use(securityHeaders({ https: parts.issuer.startsWith('https:') }));
  koa.use(errorHandler(parts.logger, parts.views));
  koa.use(unmatched());
  if (parts.mtlsAlias) koa.use(aliasEndpointsOnly(parts.mtlsAlias));
  koa.use(secureTransport({ issuer: parts.issuer, logger: parts.logger }));
  koa.use(inputGuard());
  koa.use(staticFiles());
  for (const m of parts.middleware ?? []) koa.use(m);
  const ops = new Router();
  ops.get('/healthz', healthz);
  ops.get('/readyz', readyz(parts.readiness));
  if (parts.metricsToken) ops.get('/metrics', metricsEndpoint(parts.metrics, parts.metricsToken));
  koa.use(routersFor([ops, ...parts.routers], parts.protocolPaths ?? new Set()));
  koa.use(publicationCache([DISCOVERY_PATH, JWKS_PATH], parts.publication));
  koa.use(parts.protocol);
  // What escapes every handler, or breaks the request stream after it was taken in (a body cut
  // short, a garbled chunk): one JSON line, never Koa's default multi-line stack on stderr.
  koa.on('error', (err: unknown, ctx?: Koa.Context) => {
    const clientFault =
      isClientAbort(err) || /^HPE_/.test(String((err as { code?: unknown })?.code));
    parts.logger[clientFault ? 'info' : 'error'](
      { reqId: ctx?.state.requestId, err: errorFacts(err) },
      clientFault ? 'the request could not be read to its end' : 'request failed',
    );
  });
  return koa;
}

/** The answer to a request the HTTP parser could not read, as Node's own default chooses it. */
function clientErrorStatus(code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

/**
 * A request the HTTP parser rejects (truncated, garbled, oversized headers) never reaches Koa:
 * logged as one JSON line with its error's name and code (not its message or bytes, which may
 * quote the request), then answered 400 (or 408/431) when the socket can still be written to.
 */
export function handleClientErrors(server: Server, logger: Logger): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    logger.info({ err: errorFacts(err) }, 'unreadable request');
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(
      `HTTP/1.1 ${clientErrorStatus(err.code)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
    );
  });
}

/** Resolves once `server` listens; rejects when it cannot (the port is taken, say). */
export function listening(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
}

/** Stops accepting and resolves once requests in flight have finished. */
export async function stopListening(server: Server | undefined): Promise<void> {
  if (!server?.listening) return;
  const closing = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await closing;
}
