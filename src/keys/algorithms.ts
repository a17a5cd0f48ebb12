// The algorithms the signing-key ring keeps a key for (SIGNING_ALGS): one active key per
// algorithm, the first the default (JWT access tokens, and ID tokens of clients that ask nothing).
import { z } from 'zod';

/** Algorithms Portcullis can sign with. RS256 is kept always: OpenID Connect Core §15.1. */
export const RING_ALGS = ['ES256', 'PS256', 'Ed25519', 'RS256'] as const;
export type RingAlg = (typeof RING_ALGS)[number];

/** The algorithm OpenID Connect Core §15.1 makes mandatory for every OpenID Provider. */
export const MANDATORY_ALG: RingAlg = 'RS256';

/**
 * SIGNING_ALGS: comma-separated, no repeats, the first the default. The default signs JWT access
 * tokens and FAPI 2.0 clients' ID tokens, so it cannot be RS256 (PKCS#1 v1.5, refused by FAPI 2.0).
 */
export const signingAlgsSetting = z
  .string()
  .transform((v) => v.split(',').map((a) => a.trim()))
  .refine((list) => list.every((a) => (RING_ALGS as readonly string[]).includes(a)), {
    message: `must list algorithms among ${RING_ALGS.join(', ')}`,
  })
  .refine((list) => new Set(list).size === list.length, { message: 'must not repeat an algorithm' })
  .refine((list) => list[0] !== 'RS256', {
    message: 'must not start with RS256 (the first is the default, used for JWT access tokens)',
  })
  .transform((list) => list as RingAlg[]);

/** Every algorithm of the ring, the default first, RS256 added when not listed. */
export function ringAlgs(defaultAlg: RingAlg, listed: readonly RingAlg[] | undefined): RingAlg[] {
  const algs = [defaultAlg, ...(listed ?? []).filter((a) => a !== defaultAlg)];
  if (!algs.includes(MANDATORY_ALG)) algs.push(MANDATORY_ALG);
  return algs;
}
