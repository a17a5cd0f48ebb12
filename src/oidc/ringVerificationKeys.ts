// The public half of the signing-key ring, as the JWKS that verifies this issuer's own JWTs
// (access tokens at the admin and consent APIs, JWT introspection, token exchange): one place
// that strips private members, and a cache rebuilt only when the ring changes.
import { createLocalJWKSet, type JWK } from 'jose';
import type { KeyRing } from '../keys/signingKeys.ts';
import { PRIVATE_JWK_MEMBERS } from './clientRules.ts';

export interface VerificationKeys {
  jwks: ReturnType<typeof createLocalJWKSet>;
  /** The algorithms of the ring's keys: a JWT signed with any other is refused. */
  algs: string[];
}

const publicJwk = (jwk: JWK): JWK =>
  Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE_JWK_MEMBERS.includes(k))) as JWK;

/** The verification keys of one ring. */
export function verificationKeysOf(ring: KeyRing): VerificationKeys {
  const published = ring.jwks.map(publicJwk);
  return {
    jwks: createLocalJWKSet({ keys: published }),
    algs: [...new Set(published.map((k) => k.alg).filter((a): a is string => !!a))],
  };
}

/** The verification keys of the current ring, rebuilt when its fingerprint changes. */
export function ringVerificationKeys(ring: () => KeyRing): () => VerificationKeys {
  let cached: (VerificationKeys & { fingerprint: string }) | undefined;
  return () => {
    const current = ring();
    if (cached?.fingerprint !== current.fingerprint)
      cached = { fingerprint: current.fingerprint, ...verificationKeysOf(current) };
    return cached;
  };
}
