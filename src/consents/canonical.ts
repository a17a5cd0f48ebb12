// The canonical form of authorization details (RFC 8785 style: keys sorted, no whitespace), its
// hash, and the WebAuthn challenge of dynamic linking derived from it (PSD2 RTS Art. 5).
import { createHash } from 'node:crypto';
import type { AuthorizationDetail } from './detailTypes.ts';

/**
 * JSON with object keys sorted by UTF-16 code units and no whitespace, as RFC 8785 (JCS) writes
 * it: strings and numbers as ECMAScript's JSON.stringify does. Refuses what JSON cannot hold.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string')
    return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new TypeError('canonical JSON has no place for NaN or Infinity');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON has no place for a ${typeof value}`);
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64url');

/** base64url(SHA-256(canonicalJson(details))): the same details in any key order, the same hash. */
export function canonicalHash(details: AuthorizationDetail[]): string {
  return sha256(canonicalJson(details));
}

/**
 * The WebAuthn challenge of dynamic linking: derived from the payment's canonical hash, the
 * consent id and a random nonce, so an assertion is bound to exactly that payment and consent.
 */
export function dynamicLinkingChallenge(input: {
  canonicalHash: string;
  consentId: string;
  nonce: string;
}): string {
  return sha256(
    canonicalJson({
      purpose: 'portcullis-dynamic-linking-v1',
      canonicalHash: input.canonicalHash,
      consentId: input.consentId,
      nonce: input.nonce,
    }),
  );
}
