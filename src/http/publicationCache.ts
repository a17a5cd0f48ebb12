// Cache-Control of what relying parties fetch and keep: the discovery document and the JWKS.
//
// Why this max-age is safe for key rotation: `portcullis keys rotate` stages a key in the
// database at once; every instance publishes it within KEYS_REFRESH_SECONDS (at once on
// PostgreSQL, through LISTEN/NOTIFY), and it signs only after KEYS_ACTIVATION_DELAY_SECONDS.
// A JWKS copy fetched just before an instance picked the key up lives max-age longer, so
// refresh + max-age must stay below the activation delay; taking at most half of what is left
// keeps a margin for clock skew and for shared caches (which count Age into the same max-age).
// Then every cached JWKS holds a staged key before the key signs. JWKS_MAX_AGE_SECONDS caps it.
// (`keys rotate --now` and `keys revoke` skip the delay by design: relying parties that refetch
// on an unknown kid see the new key at once; a revoked key may stay cached up to max-age.)
import type Koa from 'koa';

export interface PublicationTiming {
  jwksMaxAgeSeconds: number;
  activationDelaySeconds: number;
  refreshSeconds: number;
}

/** The max-age of discovery and JWKS: JWKS_MAX_AGE_SECONDS, or less when rotation needs it. */
export function publicationMaxAge(timing: PublicationTiming): number {
  const room = Math.floor((timing.activationDelaySeconds - timing.refreshSeconds) / 2);
  return Math.max(0, Math.min(timing.jwksMaxAgeSeconds, room));
}

/** Sets `public, max-age=N` on successful GET/HEAD responses of the given paths. */
export function publicationCache(paths: string[], timing: PublicationTiming): Koa.Middleware {
  const published = new Set(paths);
  const value = `public, max-age=${publicationMaxAge(timing)}`;
  return async (ctx, next) => {
    await next();
    if (
      published.has(ctx.path) &&
      (ctx.method === 'GET' || ctx.method === 'HEAD') &&
      ctx.status === 200
    )
      ctx.set('Cache-Control', value);
  };
}
