// What the discovery document says beyond oidc-provider's own: the client authentication methods
// of the introspection and revocation endpoints, and the scopes of the APIs marked public.
import type Koa from 'koa';

const DISCOVERY_PATHS = new Set([
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
]);

/**
 * Discovery members for the endpoints oidc-provider authenticates clients at like the token
 * endpoint (RFC 8414 §2): the same methods. Merged into `configuration.discovery`.
 */
export function endpointAuthDiscovery(methods: readonly string[]): Record<string, string[]> {
  return {
    introspection_endpoint_auth_methods_supported: [...methods],
    revocation_endpoint_auth_methods_supported: [...methods],
  };
}

/**
 * Wraps the protocol middleware: a discovery document leaves with the scopes of the public APIs
 * (the catalogue's, cached) after OpenID Connect's own in `scopes_supported`. Only discovery
 * requests read the catalogue.
 */
export function withPublicScopes(
  protocol: Koa.Middleware,
  publicScopes: () => Promise<string[]>,
): Koa.Middleware {
  return async (ctx, next) => {
    await protocol(ctx, next);
    if (!DISCOVERY_PATHS.has(ctx.path) || ctx.status !== 200) return;
    const body = ctx.body as { scopes_supported?: unknown } | null | undefined;
    if (!body || typeof body !== 'object' || !Array.isArray(body.scopes_supported)) return;
    body.scopes_supported = [...new Set([...body.scopes_supported, ...(await publicScopes())])];
  };
}
