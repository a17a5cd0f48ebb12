// Pins every request's origin to ISSUER's: discovery, JWKS, redirects, links in pages,
// registration_client_uri and `iss` are all built from ctx.href/ctx.host (oidc-provider's
// urlFor among them), so neither the Host header nor X-Forwarded-Host may choose them.
// The protocol stays what the transport (or a trusted proxy's X-Forwarded-Proto) says, so
// ctx.secure and ctx.ip keep meaning what src/http/clientAddress.ts settled. One other origin
// is allowed: MTLS_ORIGIN (RFC 8705 mtls_endpoint_aliases), for its endpoints only.
import type Koa from 'koa';
import { refuse } from './endpointFormat.ts';

/** The Host and X-Forwarded-Host headers as received, before they were pinned (ctx.state.sentHosts). */
export interface SentHosts {
  host: string;
  'x-forwarded-host': string;
}

/** The path and query of a request target, also when it came in absolute form (`GET http://x/p`). */
function pathAndQuery(target: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    const url = URL.parse(target);
    return url ? `${url.pathname}${url.search}` : '/';
  }
  return target.startsWith('/') ? target : `/${target}`;
}

/** The mTLS endpoint aliases' origin and the paths served there (nothing else is). */
export interface AliasOrigin {
  origin: string;
  paths: ReadonlySet<string>;
}

/** Whether a Host header names `url`'s host (the scheme's default port may be left out). */
function namesHost(sent: string, url: URL): boolean {
  if (!sent) return false;
  return URL.parse(`${url.protocol}//${sent}`)?.host === url.host;
}

export function issuerOrigin(issuer: string, alias?: AliasOrigin): Koa.Middleware {
  const issuerUrl = new URL(issuer);
  const aliasUrl = alias ? new URL(alias.origin) : undefined;
  return async (ctx, next) => {
    // What the caller sent, kept for the input guard: a Host that is no host name is still a 400
    // (RFC 9112 §3.2), although it no longer chooses anything.
    ctx.state.sentHosts = {
      host: ctx.get('host'),
      'x-forwarded-host': ctx.get('x-forwarded-host'),
    } satisfies SentHosts;
    const toAlias = aliasUrl !== undefined && namesHost(ctx.get('host'), aliasUrl);
    const { origin, host, hostname } = toAlias ? aliasUrl : issuerUrl;
    ctx.req.headers.host = host;
    delete ctx.req.headers['x-forwarded-host'];
    // Koa's request reads these through prototype getters: own properties of this request win.
    const target = pathAndQuery(ctx.originalUrl);
    Object.defineProperties(ctx.request, {
      origin: { value: origin, configurable: true },
      host: { value: host, configurable: true },
      hostname: { value: hostname, configurable: true },
      href: { value: `${origin}${target}`, configurable: true },
    });
    ctx.state.viaAliasOrigin = toAlias;
    await next();
  };
}

/**
 * Mounted after the error handler: at the alias origin only its endpoints are served; pages,
 * discovery and the rest live at ISSUER (their cookies and links belong to it).
 */
export function aliasEndpointsOnly(alias: AliasOrigin): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.state.viaAliasOrigin === true && !alias.paths.has(ctx.path)) {
      refuse(
        ctx,
        404,
        'the mTLS origin serves the token, PAR, introspection, revocation and userinfo endpoints only',
      );
      return;
    }
    await next();
  };
}
