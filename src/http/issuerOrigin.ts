// Pins every request's origin to ISSUER's: discovery, JWKS, redirects, links in pages,
// registration_client_uri and `iss` are all built from ctx.href/ctx.host (oidc-provider's
// urlFor among them), so neither the Host header nor X-Forwarded-Host may choose them.
// The protocol stays what the transport (or a trusted proxy's X-Forwarded-Proto) says, so
// ctx.secure and ctx.ip keep meaning what src/http/clientAddress.ts settled.
import type Koa from 'koa';

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

export function issuerOrigin(issuer: string): Koa.Middleware {
  const { origin, host, hostname } = new URL(issuer);
  return async (ctx, next) => {
    // What the caller sent, kept for the input guard: a Host that is no host name is still a 400
    // (RFC 9112 §3.2), although it no longer chooses anything.
    ctx.state.sentHosts = {
      host: ctx.get('host'),
      'x-forwarded-host': ctx.get('x-forwarded-host'),
    } satisfies SentHosts;
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
    await next();
  };
}
