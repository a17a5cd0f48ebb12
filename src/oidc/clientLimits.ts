// Per-client rate limits at the provider's client-authenticated endpoints (token, introspection,
// revocation, PAR, CIBA). A request is refused as soon as it names a client that has used its limit,
// before any work; only requests whose client authenticated stay counted, so a caller without
// the client's credentials cannot spend its budget (its request holds one only while in flight,
// and is refused with the client while the client is over its limit).
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
  'backchannel_authentication',
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
  /** The request each context took, to give back when its client does not authenticate. */
  const taken = new WeakMap<object, () => void>();

  // oidc-provider has no hook between client authentication and the endpoint, but it names the
  // client through `ctx.oidc.entity('Client', ...)` just before authenticating it: the request
  // is taken from the client's budget there (memory only), and throwing stops it before any work.
  const context = provider.OIDCContext.prototype as {
    entity(this: { route: string; ctx: KoaContextWithOIDC }, key: string, value: unknown): void;
  };
  const assign = context.entity;
  context.entity = function entity(key, value) {
    assign.call(this, key, value);
    if (key !== 'Client' || !LIMITED_ROUTES.has(this.route) || taken.has(this.ctx)) return;
    const client = value as NamedClient;
    const limit = limitOf(client);
    const take = limiter.take(client.clientId, limit);
    if (take.ok) {
      taken.set(this.ctx, take.release);
      return;
    }
    const { ctx } = this;
    ctx.set('Retry-After', String(take.retryAfterSeconds));
    limiter.refused({
      clientId: client.clientId,
      limit,
      endpoint: this.route,
      sourceIp: ctx.ip,
      userAgent: ctx.get('user-agent').slice(0, 256) || undefined,
    });
    throw slowDown(take.retryAfterSeconds);
  };

  // A request whose client did not authenticate (401 invalid_client) gives its count back, so a
  // caller without the client's credentials never spends its budget.
  provider.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      const release = taken.get(ctx);
      if (release && ctx.status === 401) release();
    }
  });
}
