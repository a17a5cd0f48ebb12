// Sender-constrained access tokens at Portcullis' own APIs (admin, consents): the DPoP proof of a
// request (RFC 9449 §4.3, §7.1) against its DPoP-bound token, a certificate-bound token (RFC 8705).
import { createHash, type X509Certificate } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, errors as joseErrors, jwtVerify } from 'jose';
import { PRIVATE_JWK_MEMBERS } from './clientRules.ts';

/** How long a proof is accepted after its iat (plus the clock tolerance either side). */
export const DPOP_PROOF_SECONDS = 60;
/** At most this many characters of proof: a DPoP header is a short compact JWS. */
const MAX_PROOF_LENGTH = 8192;
const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/** A proof that fails a check; `description` goes to the caller and never quotes the proof. */
export class DpopProofError extends Error {
  override name = 'DpopProofError';
}

export interface DpopProofCheck {
  /** The DPoP header value(s) as received (Node joins repeated headers with ", "). */
  proof: string | undefined;
  method: string;
  /** The request URL without query or fragment, built from ISSUER. */
  url: string;
  accessToken: string;
  algorithms: readonly string[];
  clockToleranceSeconds: number;
  /** Now, epoch seconds (the system time: clients stamp iat with theirs). */
  now: number;
}

export interface VerifiedProof {
  /** The JWK SHA-256 thumbprint of the proof's key (RFC 7638). */
  jkt: string;
  jti: string;
  /** Until when (epoch seconds) the proof could be accepted: how long its jti must be kept. */
  acceptableUntil: number;
}

const base64urlSha256 = (data: string | Buffer) =>
  createHash('sha256').update(data).digest('base64url');

/** The thumbprint a certificate-bound token carries in cnf.x5t#S256 (RFC 8705 §3.1). */
export const certificateThumbprint = (cert: X509Certificate) => base64urlSha256(cert.raw);

/** The URL a proof's htu is compared with: no query, no fragment. */
function withoutQuery(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const url = URL.parse(value);
  if (!url) return undefined;
  url.search = '';
  url.hash = '';
  return url.href;
}

/**
 * Verifies a DPoP proof for a request carrying `accessToken`: one proof, typ dpop+jwt, an
 * allowed asymmetric alg, a public jwk that signed it, htm, htu, a recent iat, a jti and ath.
 * Replay (the jti) is the caller's to check, with the returned jkt and jti. Throws DpopProofError.
 */
export async function verifyDpopProof(check: DpopProofCheck): Promise<VerifiedProof> {
  const proof = check.proof?.trim();
  if (!proof) throw new DpopProofError('a DPoP-bound access token needs a DPoP proof');
  if (proof.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(proof))
    throw new DpopProofError('send exactly one DPoP proof, a compact JWS');
  let payload: Record<string, unknown>;
  let jwk: Record<string, unknown>;
  try {
    const verified = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: [...check.algorithms],
    });
    payload = verified.payload;
    jwk = verified.protectedHeader.jwk as Record<string, unknown>;
  } catch (err) {
    throw new DpopProofError(describeProofError(err, check.algorithms));
  }
  // EmbeddedJWK already refuses private and symmetric keys; the private members are checked
  // again so that no future change of the library lets one through.
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk))
    throw new DpopProofError('the DPoP proof jwk must be a public key');
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256)
    throw new DpopProofError('the DPoP proof needs a jti');
  if (payload.htm !== check.method)
    throw new DpopProofError('the DPoP proof htm does not match the request method');
  if (withoutQuery(payload.htu) !== withoutQuery(check.url))
    throw new DpopProofError('the DPoP proof htu does not match the request URL');
  if (typeof payload.iat !== 'number' || !Number.isFinite(payload.iat))
    throw new DpopProofError('the DPoP proof needs an iat');
  const tolerance = check.clockToleranceSeconds;
  if (payload.iat > check.now + tolerance)
    throw new DpopProofError('the DPoP proof iat is in the future');
  if (payload.iat < check.now - DPOP_PROOF_SECONDS - tolerance)
    throw new DpopProofError('the DPoP proof has expired (iat is too old)');
  if (payload.ath !== base64urlSha256(check.accessToken))
    throw new DpopProofError('the DPoP proof ath does not match the access token');
  return {
    jkt: await calculateJwkThumbprint(jwk),
    jti: payload.jti,
    acceptableUntil: Math.ceil(payload.iat) + DPOP_PROOF_SECONDS + 2 * tolerance,
  };
}

function describeProofError(err: unknown, algorithms: readonly string[]): string {
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return `the DPoP proof must be signed with ${algorithms.join(', ')}`;
  if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'typ')
    return 'the DPoP proof typ must be dpop+jwt';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return 'the DPoP proof signature is not valid';
  if (err instanceof joseErrors.JWSInvalid)
    return 'the DPoP proof needs a public jwk in its header';
  return 'the DPoP proof is malformed';
}

/** The replay-detection id of a proof: its key and jti, hashed, in a namespace of its own. */
export const proofReplayId = (proof: VerifiedProof) =>
  base64urlSha256(`portcullis-admin-dpop\u0000${proof.jkt}\u0000${proof.jti}`);
