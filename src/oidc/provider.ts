// Holds the running oidc-provider instance. The provider reads its keys only when built, so a
// key-ring change (a rotation staged or activated anywhere) builds a new one and swaps it in;
// requests in flight finish on the old one. All state is in PostgreSQL, so nothing is lost.

import type Koa from 'koa';
import compose from 'koa-compose';
import Provider, { type Configuration } from 'oidc-provider';
import type { KeyRing } from '../keys/signingKeys.ts';
import type { Logger } from '../log.ts';

export interface OidcRuntime {
  /** The provider serving requests now. */
  readonly provider: Provider;
  readonly ring: KeyRing;
  /** Koa middleware delegating to the current provider. */
  middleware: Koa.Middleware;
  /** Rebuilds the provider when the ring differs from the current one; true when it did. */
  useRing(ring: KeyRing): boolean;
}

export interface OidcRuntimeOptions {
  issuer: string;
  logger: Logger;
  ring: KeyRing;
  configure: (ring: KeyRing) => Configuration;
  /** Attaches event listeners (metrics, audit) to each provider built. */
  onBuild?: (provider: Provider) => void;
}

export function createOidcRuntime(options: OidcRuntimeOptions): OidcRuntime {
  const build = (ring: KeyRing) => {
    const provider = new Provider(options.issuer, options.configure(ring));
    // Mounted in Portcullis' Koa app, the provider reads ctx.ip, protocol and host through that
    // app's context, settled by src/http/clientAddress.ts: its own `proxy` setting is unused.
    options.onBuild?.(provider);
    return { provider, ring, handler: compose(provider.middleware as Koa.Middleware[]) };
  };

  let current = build(options.ring);

  return {
    get provider() {
      return current.provider;
    },
    get ring() {
      return current.ring;
    },
    middleware: (ctx, next) => current.handler(ctx, next),
    useRing(ring) {
      if (ring.fingerprint === current.ring.fingerprint) return false;
      current = build(ring);
      options.logger.info(
        { activeKid: ring.activeKid, published: ring.jwks.length },
        'signing keys changed: provider rebuilt',
      );
      return true;
    },
  };
}
