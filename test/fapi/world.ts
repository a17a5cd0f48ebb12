// A small open-banking world for FAPI 2.0 tests: a payments API, a person allowed it, third-party
// providers (TPPs) with their own key pairs, openid-client set up with private_key_jwt, and a
// sign-in over plain HTTP. Also the artefact counts a rejection test checks.
import { randomUUID, type webcrypto } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import type { ClientInput } from '../../src/oidc/clients.ts';
import { HttpBrowser, type Page } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import type { TestServer } from '../support/server.ts';

export const PAYMENTS = 'https://payments.api.example';
export const TPP_REDIRECT = 'https://tpp.example/callback';
export const SCOPE = 'openid payments:write';

type CryptoKey = webcrypto.CryptoKey;

export interface Tpp {
  id: string;
  /** The private half of its client-authentication key. */
  privateKey: CryptoKey;
  publicJwk: JWK;
  kid: string;
  alg: string;
}

/** Creates the payments API, a role and a person allowed to make payments. */
export async function seedPayments(
  server: TestServer,
  email = 'pat@example.com',
): Promise<{ email: string; id: string }> {
  const { catalogue, accounts, roles } = server.app.services;
  await catalogue.create({
    identifier: PAYMENTS,
    name: 'Payments API',
    tokenFormat: 'opaque',
    accessTokenTtl: 300,
    scopes: [{ name: 'payments:write', description: 'Make payments from your accounts' }],
  });
  await roles.create({ name: 'payer', scopes: { [PAYMENTS]: ['payments:write'] } });
  const person = await accounts.create({ email, password: PASSWORD, roles: ['payer'] });
  return { email, id: person.id };
}

/** A fresh key pair for a client (ES256 unless asked otherwise), its public JWK with kid and alg. */
export async function clientKey(alg = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { privateKey: privateKey as CryptoKey, publicJwk, kid, alg };
}

/** What a TPP asks to be registered as (private_key_jwt, code + refresh tokens). */
export function tppInput(publicJwk: JWK, overrides: Partial<ClientInput> = {}): ClientInput {
  return {
    name: 'Third-party provider',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: [TPP_REDIRECT],
    authMethod: 'private_key_jwt',
    jwks: { keys: [publicJwk as Record<string, unknown>] },
    apiAccess: { [PAYMENTS]: ['payments:write'] },
    ...overrides,
  };
}

/** Registers a TPP through the client registry (the CLI's and admin API's path). */
export async function createTpp(
  server: TestServer,
  overrides: Partial<ClientInput> = { profile: 'fapi2' },
): Promise<Tpp> {
  const key = await clientKey();
  const { client } = await server.app.services.clients.create(tppInput(key.publicJwk, overrides));
  return { id: client.clientId, ...key };
}

/** openid-client for a TPP: discovery, private_key_jwt, http allowed (the test issuer). */
export function relyingParty(server: TestServer, tpp: Tpp): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(server.issuer),
    tpp.id,
    { redirect_uris: [TPP_REDIRECT], token_endpoint_auth_signing_alg: tpp.alg },
    oidc.PrivateKeyJwt(tpp.privateKey, {
      [oidc.modifyAssertion]: (header) => {
        header.kid = tpp.kid;
      },
    }),
    { execute: [oidc.allowInsecureRequests] },
  );
}

/** A client assertion (RFC 7523) for the TPP, with claims and header members replaced at will. */
export async function clientAssertion(
  server: TestServer,
  tpp: Tpp,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: tpp.id,
    sub: tpp.id,
    aud: server.issuer,
    jti: randomUUID(),
    iat: now,
    exp: now + 60,
    ...claims,
  };
  // A claim given as undefined is left out (for tests of missing claims).
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: tpp.alg, kid: tpp.kid, ...header })
    .sign(tpp.privateKey);
}

/** Form fields authenticating the TPP with a fresh client assertion. */
export async function assertionFields(
  server: TestServer,
  tpp: Tpp,
  claims: Record<string, unknown> = {},
): Promise<Record<string, string>> {
  return {
    client_id: tpp.id,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: await clientAssertion(server, tpp, claims),
  };
}

/** A form POST to a protocol endpoint; the status and JSON body. */
export async function postForm(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
}

/**
 * Follows an authorization URL in a fresh browser: signs the person in and approves consent.
 * Returns the redirect back to the TPP, or the page it stopped at.
 */
export async function signIn(
  server: TestServer,
  url: URL | string,
  email: string,
): Promise<{ callback?: URL; page: Page }> {
  const browser = new HttpBrowser();
  let page = await browser.open(String(url), server.issuer);
  if (page.html.includes('/login"'))
    page = await browser.submit(page, /\/login$/, { email, password: PASSWORD }, server.issuer);
  if (page.html.includes('/consent"'))
    page = await browser.submit(page, /\/consent$/, { decision: 'approve' }, server.issuer);
  if (page.location?.startsWith(TPP_REDIRECT)) return { callback: new URL(page.location), page };
  return { page };
}

/** The artefacts of a model that belong to a client (codes, tokens, grants...). */
export async function artefactCount(
  server: TestServer,
  model: string,
  clientId: string,
): Promise<number> {
  const row = await server.db
    .knex('oidc_artifacts')
    .where({ model, client_id: clientId })
    .count('* as n')
    .first();
  return Number(row?.n ?? 0);
}

/** Access, refresh tokens and codes of a client: a refused request must not add any. */
export async function issuedCount(server: TestServer, clientId: string): Promise<number> {
  let total = 0;
  for (const model of ['AccessToken', 'RefreshToken', 'AuthorizationCode'])
    total += await artefactCount(server, model, clientId);
  return total;
}

/** Access and refresh tokens of a client. */
export async function tokenCount(server: TestServer, clientId: string): Promise<number> {
  return (
    (await artefactCount(server, 'AccessToken', clientId)) +
    (await artefactCount(server, 'RefreshToken', clientId))
  );
}

/**
 * The full FAPI 2.0 flow with openid-client: PAR (private_key_jwt, DPoP-bound), sign-in, code
 * for tokens with a DPoP proof. Returns the tokens and the DPoP handle used.
 */
export async function fapiFlow(server: TestServer, tpp: Tpp, email: string) {
  const config = await relyingParty(server, tpp);
  const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = await oidc.buildAuthorizationUrlWithPAR(
    config,
    {
      redirect_uri: TPP_REDIRECT,
      scope: SCOPE,
      resource: PAYMENTS,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    },
    { DPoP: dpop },
  );
  const { callback, page } = await signIn(server, url, email);
  if (!callback) throw new Error(`sign-in stopped at ${page.status} ${page.html.slice(0, 500)}`);
  const tokens = await oidc.authorizationCodeGrant(
    config,
    callback,
    { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true },
    undefined,
    { DPoP: dpop },
  );
  return { config, dpop, tokens, callback };
}
