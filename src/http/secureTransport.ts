// With an https ISSUER every request arrives through a proxy that terminates TLS and says so in
// X-Forwarded-Proto. One that arrives as plain http (the proxy does not send the header, or is not
// among TRUSTED_PROXIES) is refused with a clear 400 in the endpoint's format, and logged once as
// a warning, instead of failing later (a secure cookie cannot be sent over http: a 500).
import type Koa from 'koa';
import type { Logger } from '../log.ts';
import { refuse } from './endpointFormat.ts';

/** Probes and metrics that a load balancer calls on the instance itself, over http. */
const OPERATIONS = new Set(['/healthz', '/readyz', '/metrics']);

export const PLAIN_HTTP_REFUSED =
  'this server is served over https: the proxy in front of it must send X-Forwarded-Proto: https (and be listed in TRUSTED_PROXIES)';

export function secureTransport(options: { issuer: string; logger: Logger }): Koa.Middleware {
  if (!options.issuer.startsWith('https:')) return (_ctx, next) => next();
  let warned = false;
  return async (ctx, next) => {
    if (ctx.protocol === 'https' || OPERATIONS.has(ctx.path)) return next();
    if (!warned) {
      warned = true;
      options.logger.warn(
        {
          reqId: ctx.state.requestId,
          forwardedProtoSent: ctx.get('x-forwarded-proto') !== '',
        },
        'a request arrived over plain http although ISSUER is https: the proxy must send X-Forwarded-Proto: https and be listed in TRUSTED_PROXIES (refused with 400; logged once)',
      );
    }
    refuse(ctx, 400, PLAIN_HTTP_REFUSED);
  };
}
