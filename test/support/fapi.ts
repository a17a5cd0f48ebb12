// The kit of the FAPI 2.0 conformance tests: client keys, client assertions and DPoP proofs whose
// every header member and claim can be changed or left out, PAR, sign-in for a code, token rows.
import assert from 'node:assert/strict';
import {
  constants,
  createHash,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  randomUUID,
  sign,
} from 'node:crypto';
import { HttpBrowser, type Page, pkce } from './browserless.ts';
import { PASSWORD } from './fixtures.ts';
import type { TestServer } from './server.ts';

export type Alg = 'ES256' | 'PS256' | 'RS256' | 'EdDSA';
type Json = Record<string, unknown>;

export interface SigningKey {
  alg: Alg;
  privateKey: KeyObject;
  /** The public JWK (with a kid), as a client registers it. */
  publicJwk: Json & { kid: string };
  /** The private JWK: a DPoP header must never carry it. */
  privateJwk: Json;
}

/** A fresh key pair for `alg` (RS256 and PS256 share RSA keys). */
export function signingKey(alg: Alg = 'ES256'): SigningKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('hex');
  return {
    alg,
    privateKey: pair.privateKey,
    publicJwk: { ...(pair.publicKey.export({ format: 'jwk' }) as Json), kid },
    privateJwk: { ...(pair.privateKey.export({ format: 'jwk' }) as Json), kid },
  };
}

const b64 = (value: Json) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A compact JWS signed by hand, so a test can send any header (no `alg`, no `typ`, `none`) over
 * a real signature. `alg` names how to sign; the header says whatever the test wants.
 */
export function signJws(header: Json, payload: Json, key: KeyObject, alg: Alg | 'none'): string {
  const input = `${b64(header)}.${b64(payload)}`;
  if (alg === 'none') return `${input}.`;
  const data = Buffer.from(input);
  const signature =
    alg === 'ES256'
      ? sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
      : alg === 'PS256'
        ? sign('sha256', data, {
            key,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
          })
        : alg === 'RS256'
          ? sign('sha256', data, key)
          : sign(null, data, key);
  return `${input}.${signature.toString('base64url')}`;
}

/** Applies overrides: a value replaces, `undefined` removes the member. */
function merged(base: Json, overrides: Json = {}): Json {
  const out: Json = { ...base };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete out[name];
    else out[name] = value;
  }
  return out;
}

export const now = () => Math.floor(Date.now() / 1000);

export interface JwtOverrides {
  claims?: Json;
  header?: Json;
  /** How to sign (default: the key's own algorithm); 'none' leaves the signature empty. */
  signAs?: Alg | 'none';
}

/** A private_key_jwt client assertion (RFC 7523) for `clientId`, by default for `audience`. */
export function clientAssertion(
  key: SigningKey,
  clientId: string,
  audience: unknown,
  o: JwtOverrides = {},
): string {
  const iat = now();
  const claims = merged(
    { iss: clientId, sub: clientId, aud: audience, jti: randomUUID(), iat, exp: iat + 60 },
    o.claims,
  );
  const signAs = o.signAs ?? key.alg;
  const header = merged({ alg: signAs, kid: key.publicJwk.kid }, o.header);
  return signJws(header, claims, key.privateKey, signAs);
}

/** A DPoP proof (RFC 9449) for `htm` `htu`, with `ath` when it goes with an access token. */
export function dpopProof(
  key: SigningKey,
  htm: string,
  htu: string,
  o: JwtOverrides & { accessToken?: string } = {},
): string {
  const { kid: _kid, ...jwk } = key.publicJwk;
  const claims = merged(
    {
      jti: randomUUID(),
      htm,
      htu,
      iat: now(),
      ...(o.accessToken
        ? { ath: createHash('sha256').update(o.accessToken).digest('base64url') }
        : {}),
    },
    o.claims,
  );
  const signAs = o.signAs ?? key.alg;
  const header = merged({ typ: 'dpop+jwt', alg: signAs, jwk }, o.header);
  return signJws(header, claims, key.privateKey, signAs);
}

/** The JWK SHA-256 thumbprint (RFC 7638) of a key, as `dpop_jkt` and `cnf.jkt` carry it. */
export function thumbprint(key: SigningKey): string {
  const jwk = key.publicJwk as Record<string, string>;
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : jwk.kty === 'OKP'
        ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
        : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of several endpoints
  body: any;
}

export async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: res.status, headers: res.headers, body };
}

/** A form POST (or any method) to `path`, with extra headers such as DPoP. */
export async function send(
  server: TestServer,
  path: string,
  form: Record<string, string>,
  o: { method?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const method = o.method ?? 'POST';
  const query = method === 'GET' ? `?${new URLSearchParams(form)}` : '';
  return reply(
    await fetch(server.url(`${path}${query}`), {
      method,
      redirect: 'manual',
      headers: {
        ...(method === 'GET' ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
        ...o.headers,
      },
      body: method === 'GET' ? undefined : new URLSearchParams(form),
    }),
  );
}

/** Form fields authenticating `clientId` with an assertion. */
export const assertionFields = (clientId: string, assertion: string) => ({
  client_id: clientId,
  client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
  client_assertion: assertion,
});

/** Access and refresh tokens stored for a client (and codes when asked): what a refusal must not add. */
export async function tokenRows(
  server: TestServer,
  clientId: string,
  models = ['AccessToken', 'RefreshToken', 'ClientCredentials'],
): Promise<number> {
  const [row] = await server.db
    .knex('oidc_artifacts')
    .where({ client_id: clientId })
    .whereIn('model', models)
    .count<{ count: string }[]>({ count: '*' });
  return Number(row?.count ?? 0);
}

/** Asserts a reply is exactly this OAuth error (status, error, and the description when given). */
export function assertError(
  r: Reply,
  status: number,
  error: string,
  description?: string | RegExp,
  message = '',
): void {
  const got = { status: r.status, error: r.body?.error };
  assert.deepEqual(got, { status, error }, `${message} ${JSON.stringify(r.body)}`);
  if (typeof description === 'string') assert.equal(r.body.error_description, description, message);
  else if (description) assert.match(r.body.error_description ?? '', description, message);
}

/** Follows an authorization request through sign-in and consent to the client's redirect. */
export async function signInAt(
  server: TestServer,
  url: string,
  email: string,
  browser = new HttpBrowser(),
): Promise<{ redirect?: URL; page: Page }> {
  let page = await browser.open(url, server.issuer);
  if (page.html.includes('/login"')) {
    page = await browser.submit(page, /\/login$/, { email, password: PASSWORD }, server.issuer);
  }
  if (page.html.includes('/consent"')) {
    page = await browser.submit(page, /\/consent$/, { decision: 'approve' }, server.issuer);
  }
  return { redirect: page.location ? new URL(page.location) : undefined, page };
}

export { pkce };
