// Client credentials with private_key_jwt: a freshly signed client assertion (new jti) on every
// request, so the server's replay detection stores and checks one entry per request.
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { type Expectation, expectation, type Step } from './types.ts';

export interface ClientAssertionOptions {
  path: string;
  clientId: string;
  /** The client's private key (ES256 JWK with kid). */
  privateJwk: Record<string, unknown> & { kid: string };
  /** The `aud` of the assertion: the issuer identifier. */
  audience: string;
  form: Record<string, string>;
  expect: Expectation;
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** Signs synchronously (autocannon's setupRequest cannot wait for a promise). */
export function assertionSigner(options: ClientAssertionOptions): () => string {
  const key = createPrivateKey({ key: options.privateJwk as never, format: 'jwk' });
  const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: options.privateJwk.kid }));
  return () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: options.clientId,
      sub: options.clientId,
      aud: options.audience,
      jti: randomBytes(16).toString('base64url'),
      iat: now,
      exp: now + 60,
    };
    const input = `${header}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64url(signature)}`;
  };
}

export function steps(options: ClientAssertionOptions): Step[] {
  const assertion = assertionSigner(options);
  return [
    {
      method: 'POST',
      path: options.path,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      setup: () => ({
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
