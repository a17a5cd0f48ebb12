// Per-client rate limits at the provider's client-authenticated endpoints (token, introspection,
// revocation, PAR). A request is refused as soon as it names a client that has used its limit,
// before any work; only requests whose client authenticated are counted, so a caller without the
// client's credentials cannot spend its budget (it can only be refused with it while the client
// is over its limit).
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ClientLimiter } from '../limits/clientLimiter.ts';
import { type RateLimit, rateLimitOfMetadata } from '../limits/rateLimit.ts';

/** Route names of oidc-provider whose callers are authenticated clients. */
const LIMITED_ROUTES = new Set([
  'token',
  'introspection',
  'revocation',
  'pushed_authorization_request',
]);

type NamedClient = { clientId: string; rate_limit?: unknown };

/**
 * 429 with the OAuth error `slow_down`: the registered error code (RFC 8628 section 3.5, in the
 * OAuth extensions error registry) for a client polling too fast, which is what this is; the
 * status is 429 (RFC 6585) so that generic HTTP clients back off by `Retry-After`.
 */
function slowDown(retryAfterSeconds: number) {
  const err = new errors.OIDCProviderError(429, 'slow_down');
  err.error_description = `this client has used its request limit: retry after ${retryAfterSeconds} seconds`;
  return err;
}

export function limitClients(provider: Provider, limiter: ClientLimiter): void {
  /** The client's own limit (client metadata `rate_limit`), or the default. */
  const limitOf = (client: NamedClient): RateLimit =>
    rateLimitOfMetadata(client.rate_limit) ?? limiter.defaultLimit;

  // oidc-provider has no hook between client authentication and the endpoint, but it names the
  // client through `ctx.oidc.entity('Client', ...)` just before authenticating it: the check
  // (memory only) runs there, and throwing stops the request before any work.
  const context = provider.OIDCContext.prototype as {
    entity(this: { route: string; ctx: KoaContextWithOIDC }, key: string, value: unknown): void;
  };
  const assign = context.entity;
  context.entity = function entity(key, value) {
    assign.call(this, key, value);
    if (key !== 'Client' || !LIMITED_ROUTES.has(this.route)) return;
    const client = value as NamedClient;
    const limit = limitOf(client);
    const retryAfter = limiter.check(client.clientId, limit);
    if (retryAfter === undefined) return;
    const { ctx } = this;
    ctx.set('Retry-After', String(retryAfter));
    limiter.refused({
      clientId: client.clientId,
      limit,
      endpoint: this.route,
      sourceIp: ctx.ip,
      userAgent: ctx.get('user-agent').slice(0, 256) || undefined,
    });
    throw slowDown(retryAfter);
  };

  // Counted once answered: the client authenticated unless the answer is 401 (invalid_client).
  provider.use(async (ctx, next) => {
    await next();
    const oidc = (ctx as Partial<KoaContextWithOIDC>).oidc;
    if (!oidc || !LIMITED_ROUTES.has(oidc.route)) return;
    const client = oidc.client as NamedClient | undefined;
    if (!client || ctx.status === 401 || ctx.status === 429) return;
    limiter.count(client.clientId, limitOf(client));
  });
}
