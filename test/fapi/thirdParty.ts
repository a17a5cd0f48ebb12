// The bank the FAPI 2.0 tests run against: an API with opaque tokens (so introspection tells whether
// a token still works), a customer, and two third-party clients authenticating with private_key_jwt,
// plus the protocol steps of the conformance suite (PAR, sign-in, token request) over plain HTTP.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HttpBrowser } from '../support/browserless.ts';
import {
  assertionFields,
  clientAssertion,
  dpopProof,
  pkce,
  type Reply,
  type SigningKey,
  send,
  signInAt,
  signingKey,
  tokenRows,
} from '../support/fapi.ts';
import { PASSWORD } from '../support/fixtures.ts';
import type { TestServer } from '../support/server.ts';

export const VAULT = 'https://vault.api.example';
export const REDIRECT = 'https://tpp.example/callback';
export const SCOPE = 'openid vault:read';

export interface FapiClient {
  id: string;
  /** Signs its client assertions (ES256). */
  key: SigningKey;
  /** Its RSA key, registered too: PS256 is allowed, RS256 is not. */
  rsa: SigningKey;
  /** Its DPoP key. */
  dpop: SigningKey;
}

export interface World {
  server: TestServer;
  person: { id: string; email: string };
  client: FapiClient;
  /** A second client of the same kind, for the "bound to its client" tests. */
  other: FapiClient;
  /** The person's browser: signed in once, its session serves the next requests (no Argon2 each time). */
  browser: HttpBrowser;
}

export interface WorldOptions {
  /** Registered as a FAPI 2.0 client (the per-client profile). */
  fapi2?: boolean;
}

export async function createClient(
  server: TestServer,
  name: string,
  o: WorldOptions,
): Promise<FapiClient> {
  const key = signingKey('ES256');
  const rsa = signingKey('PS256');
  const created = await server.app.services.clients.create({
    name,
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: [REDIRECT],
    authMethod: 'private_key_jwt',
    jwks: { keys: [key.publicJwk, rsa.publicJwk] },
    apiAccess: { [VAULT]: ['vault:read'] },
    ...(o.fapi2 ? { profile: 'fapi2' as const } : {}),
  });
  return { id: created.client.clientId, key, rsa, dpop: signingKey('ES256') };
}

export interface Setup {
  name: string;
  env: Record<string, string>;
  fapi2: boolean;
}

/** The two ways a client is FAPI 2.0: registered with the fapi2 profile, or every client under FAPI_PROFILE=2.0. */
export const SETUPS: Setup[] = [
  { name: 'a fapi2 client', env: {}, fapi2: true },
  { name: 'FAPI_PROFILE=2.0', env: { FAPI_PROFILE: '2.0' }, fapi2: false },
];

export async function seedWorld(server: TestServer, o: WorldOptions = {}): Promise<World> {
  const { catalogue, accounts, roles } = server.app.services;
  await catalogue.create({
    identifier: VAULT,
    name: 'Vault',
    tokenFormat: 'opaque',
    accessTokenTtl: 300,
    scopes: [{ name: 'vault:read', description: 'See your vault' }],
  });
  await roles.create({ name: 'vault-reader', scopes: ['vault:read'] });
  const person = await accounts.create({
    email: 'fay@example.com',
    password: PASSWORD,
    roles: ['vault-reader'],
  });
  return {
    server,
    person: { id: person.id, email: person.email },
    client: await createClient(server, 'Third party', o),
    other: await createClient(server, 'Another third party', o),
    browser: new HttpBrowser(),
  };
}

/** A fresh, valid client assertion for the issuer (the audience FAPI 2.0 requires). */
export const auth = (w: World, c: FapiClient = w.client) =>
  assertionFields(c.id, clientAssertion(c.key, c.id, w.server.issuer));

export interface PushOptions {
  client?: FapiClient;
  /** Replaces or (with undefined) removes authorization request parameters. */
  params?: Record<string, string | undefined>;
  /** Client authentication fields (default: a fresh valid assertion). */
  authFields?: Record<string, string>;
  headers?: Record<string, string>;
  method?: string;
  /** Signs in with a browser of its own (a grant of its own, e.g. for tests that revoke it). */
  newSession?: boolean;
}

/** A pushed authorization request (RFC 9126) with PKCE S256; returns the reply and the PKCE pair. */
export async function push(w: World, o: PushOptions = {}) {
  const client = o.client ?? w.client;
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString('hex');
  const params: Record<string, string> = {
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: SCOPE,
    resource: VAULT,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  };
  for (const [name, value] of Object.entries(o.params ?? {})) {
    if (value === undefined) delete params[name];
    else params[name] = value;
  }
  const reply = await send(
    w.server,
    '/request',
    { ...params, ...(o.authFields ?? auth(w, client)) },
    { method: o.method, headers: o.headers },
  );
  return { reply, verifier, state, requestUri: reply.body?.request_uri as string | undefined };
}

/** A push that must be refused: no request_uri comes back and none is stored. */
export async function refusedPush(w: World, o: PushOptions = {}) {
  const clientId = (o.client ?? w.client).id;
  const stored = () => tokenRows(w.server, clientId, ['PushedAuthorizationRequest']);
  const before = await stored();
  const pushed = await push(w, o);
  assert.equal(pushed.requestUri, undefined, 'no request_uri');
  assert.equal(await stored(), before, 'no pushed request stored');
  return pushed;
}

export const authorizeUrl = (w: World, clientId: string, requestUri: string) =>
  `${w.server.issuer}/auth?${new URLSearchParams({ client_id: clientId, request_uri: requestUri })}`;

/** Pushes, signs in and consents: an unredeemed code and its verifier. */
export async function codeFor(w: World, o: PushOptions = {}) {
  const client = o.client ?? w.client;
  const pushed = await push(w, o);
  assert.equal(pushed.reply.status, 201, JSON.stringify(pushed.reply.body));
  const { redirect, page } = await signInAt(
    w.server,
    authorizeUrl(w, client.id, pushed.requestUri!),
    w.person.email,
    o.newSession ? new HttpBrowser() : w.browser,
  );
  const code = redirect?.searchParams.get('code');
  assert.ok(code, `a code: ${page.status} ${page.location} ${page.html.slice(0, 300)}`);
  assert.equal(redirect!.searchParams.get('iss'), w.server.issuer, 'iss in the response');
  return { code, verifier: pushed.verifier, redirect: redirect! };
}

export interface TokenOptions {
  client?: FapiClient;
  authFields?: Record<string, string>;
  /** The DPoP header: a proof, or null for none (default: a fresh proof with the client's key). */
  dpop?: string | null;
}

/** A token request: `form` plus client authentication and a DPoP proof. */
export function token(w: World, form: Record<string, string>, o: TokenOptions = {}) {
  const client = o.client ?? w.client;
  const proof =
    o.dpop === undefined ? dpopProof(client.dpop, 'POST', w.server.url('/token')) : o.dpop;
  return send(
    w.server,
    '/token',
    { ...form, ...(o.authFields ?? auth(w, client)) },
    { headers: proof ? { dpop: proof } : {} },
  );
}

export const redeemForm = (code: string, verifier: string): Record<string, string> => ({
  grant_type: 'authorization_code',
  code,
  code_verifier: verifier,
  redirect_uri: REDIRECT,
  resource: VAULT,
});

/** Signs in and redeems: DPoP-bound tokens of the client. */
export async function tokensFor(w: World, client: FapiClient = w.client) {
  const { code, verifier } = await codeFor(w, { client });
  const r = await token(w, redeemForm(code, verifier), { client });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as { access_token: string; refresh_token?: string; token_type: string };
}

/** What introspection says of a token, asked by the client it was issued to. */
export async function introspect(w: World, value: string, client: FapiClient = w.client) {
  const r: Reply = await send(w.server, '/token/introspection', {
    token: value,
    ...auth(w, client),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as { active: boolean; cnf?: { jkt?: string } };
}

/** Userinfo with an access token under `scheme`, with a DPoP proof when given. */
export const userinfo = (w: World, accessToken: string, scheme: string, proof?: string) =>
  send(
    w.server,
    '/me',
    {},
    {
      method: 'GET',
      headers: { authorization: `${scheme} ${accessToken}`, ...(proof ? { dpop: proof } : {}) },
    },
  );
