// The FAPI 2.0 token request: a client assertion (private_key_jwt) and a DPoP proof (RFC 9449),
// both signed afresh for every request in the load process, so the signing stays off the server.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto';
import { type Expectation, expectation, type Step } from './types.ts';

export interface FapiTokenOptions {
  /** The token endpoint's path; with `issuer` it makes the proof's `htu`. */
  path: string;
  clientId: string;
  /** The client's private key (ES256 JWK with kid). */
  privateJwk: Record<string, unknown> & { kid: string };
  /** The issuer identifier: the assertion's `aud` (a string, as FAPI 2.0 demands). */
  issuer: string;
  form: Record<string, string>;
  expect: Expectation;
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const jti = () => randomBytes(16).toString('base64url');

/** A compact ES256 JWS, signed synchronously (autocannon's setupRequest cannot wait). */
function es256(header: object, claims: object, key: KeyObject): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(signature)}`;
}

/**
 * Client assertions within FAPI 2.0's limits: `aud` the issuer as a string, `iat` and `nbf`
 * now, `exp` a minute later, a new `jti` each time.
 */
export function fapiAssertionSigner(
  options: Pick<FapiTokenOptions, 'clientId' | 'privateJwk' | 'issuer'>,
): () => string {
  const key = createPrivateKey({ key: options.privateJwk as never, format: 'jwk' });
  const header = { alg: 'ES256', typ: 'JWT', kid: options.privateJwk.kid };
  return () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: options.clientId,
      sub: options.clientId,
      aud: options.issuer,
      jti: jti(),
      iat: now,
      nbf: now,
      exp: now + 60,
    };
    return es256(header, claims, key);
  };
}

/**
 * DPoP proofs for one POST endpoint, signed with one ES256 key per load process: a client keeps
 * its DPoP key for the tokens bound to it; only the proof (`jti`, `iat`) is new per request.
 */
export function dpopSigner(htu: string): () => string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = createPublicKey(privateKey).export({ format: 'jwk' });
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } };
  return () =>
    es256(header, { jti: jti(), htm: 'POST', htu, iat: Math.floor(Date.now() / 1000) }, privateKey);
}

export function steps(options: FapiTokenOptions): Step[] {
  const assertion = fapiAssertionSigner(options);
  // The endpoint's URL under the issuer (which may have a path of its own).
  const proof = dpopSigner(`${options.issuer.replace(/\/$/, '')}${options.path}`);
  return [
    {
      method: 'POST',
      path: options.path,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      setup: () => ({
        headers: { dpop: proof() },
        body: new URLSearchParams({
          ...options.form,
          client_id: options.clientId,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion(),
        }).toString(),
      }),
      check: expectation(options.expect),
    },
  ];
}
