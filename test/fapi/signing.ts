// Fixture for the message-signing tests: clients signing with their own ES256 key, request objects
// built claim by claim, PAR calls, a browser sign-in from a URL, and a count of what was stored.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { LEDGER, type Ledger, seedLedger } from '../oidc/ledger.ts';
import { HttpBrowser, pkce } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import type { TestServer } from '../support/server.ts';

export const SIGNING_REDIRECT = 'https://signing-app.example/callback';

export interface SigningClient {
  id: string;
  key: CryptoKey;
  kid: string;
}

export interface SigningBank {
  ledger: Ledger;
  /** A FAPI 2.0 client (profile fapi2) registered with require_signed_request_object. */
  signer: SigningClient;
  /** The same kind of client without the requirement, of the default profile. */
  optional: SigningClient;
}

export async function createSigningClient(
  server: TestServer,
  name: string,
  requireSignedRequestObject: boolean,
  profile: 'fapi2' | 'default',
): Promise<SigningClient> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const created = await server.app.services.clients.create({
    name,
    grantTypes: ['authorization_code'],
    redirectUris: [SIGNING_REDIRECT],
    authMethod: 'private_key_jwt',
    jwks: { keys: [jwk] },
    apiAccess: { [LEDGER]: ['ledger:read'] },
    firstParty: true,
    requireSignedRequestObject,
    profile,
  });
  return { id: created.client.clientId, key: privateKey, kid };
}

export async function seedSigningBank(server: TestServer): Promise<SigningBank> {
  const ledger = await seedLedger(server);
  return {
    ledger,
    signer: await createSigningClient(server, 'Signing app', true, 'fapi2'),
    optional: await createSigningClient(server, 'Optionally signing app', false, 'default'),
  };
}

const now = () => Math.floor(Date.now() / 1000);

/** A private_key_jwt client assertion for `audience` (the issuer). */
export const clientAssertion = (client: SigningClient, audience: string) =>
  new SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: client.kid })
    .setIssuer(client.id)
    .setSubject(client.id)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(client.key);

/** The parameters of an authorization request for the ledger, with a fresh PKCE pair. */
export function authorizationParams(client: SigningClient) {
  const { verifier, challenge } = pkce();
  const state = randomUUID();
  return {
    verifier,
    state,
    params: {
      client_id: client.id,
      response_type: 'code',
      redirect_uri: SIGNING_REDIRECT,
      scope: 'openid ledger:read',
      resource: LEDGER,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
    } as Record<string, unknown>,
  };
}

/** Authorization parameters as a form (or query): the plain, unsigned request. */
export const asForm = (params: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));

/**
 * Claims of a request object as FAPI 2.0 Message Signing wants them (iss, aud, exp 5 minutes
 * after nbf, nbf now), changed by `changes`: a key set to undefined is left out.
 */
export function requestClaims(
  client: SigningClient,
  issuer: string,
  params: Record<string, unknown>,
  changes: Record<string, unknown> = {},
): JWTPayload {
  const claims: Record<string, unknown> = {
    ...params,
    iss: client.id,
    aud: issuer,
    iat: now(),
    nbf: now(),
    exp: now() + 300,
    jti: randomUUID(),
    ...changes,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return claims;
}

/** Signs request-object claims with the client's key (or another key and algorithm). */
export const signRequest = (
  client: SigningClient,
  claims: JWTPayload,
  options: { key?: CryptoKey; alg?: string; kid?: string } = {},
) =>
  new SignJWT(claims)
    .setProtectedHeader({
      alg: options.alg ?? 'ES256',
      kid: options.kid ?? client.kid,
      typ: 'oauth-authz-req+jwt',
    })
    .sign(options.key ?? client.key);

/** An unsecured JWT (alg none) of the claims. */
export function unsecuredRequest(claims: JWTPayload): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'none', typ: 'oauth-authz-req+jwt' })}.${part(claims)}.`;
}

export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of several endpoints
  body: any;
}

/** A pushed authorization request (RFC 9126) authenticated with a client assertion. */
export async function push(
  server: TestServer,
  client: SigningClient,
  form: Record<string, string>,
): Promise<Reply> {
  const res = await fetch(server.url('/request'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: client.id,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await clientAssertion(client, server.issuer),
      ...form,
    }),
  });
  return { status: res.status, body: await res.json() };
}

/** How many rows of each kind the authorization server holds (requests, codes, tokens, grants). */
export async function storedArtifacts(server: TestServer): Promise<Record<string, number>> {
  const rows = await server.db
    .knex('oidc_artifacts')
    .whereIn('model', [
      'PushedAuthorizationRequest',
      'AuthorizationCode',
      'AccessToken',
      'RefreshToken',
      'Grant',
      'Interaction',
    ])
    .select('model')
    .count('* as n')
    .groupBy('model');
  return Object.fromEntries(rows.map((r) => [r.model as string, Number(r.n)]));
}

/**
 * Opens an authorization URL in a new browser, signs the ledger's person in, and returns where
 * the server finally redirected outside itself (or the page it stopped at).
 */
export async function signInAt(server: TestServer, bank: SigningBank, url: string) {
  const browser = new HttpBrowser();
  let page = await browser.open(url, server.issuer);
  if (page.html.includes('/login"')) {
    page = await browser.submit(
      page,
      /\/login$/,
      { email: bank.ledger.person.email, password: PASSWORD },
      server.issuer,
    );
  }
  return page;
}

/** The URL the browser was sent back to the client with. */
export function redirectedTo(page: { location: string | undefined; status: number; html: string }) {
  assert.ok(
    page.location?.startsWith(SIGNING_REDIRECT),
    `redirected to the client: ${page.status} ${page.html.slice(0, 300)}`,
  );
  return new URL(page.location!);
}
