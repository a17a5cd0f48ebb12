// A small fixture for token lifecycle tests: an API with opaque tokens (so introspection says
// whether a token still works), a person allowed it, a first-party web client with refresh
// tokens, a resource server declared for the API that introspects its tokens, and plain HTTP calls to the protocol endpoints.
import assert from 'node:assert/strict';
import { HttpBrowser, loginForCode } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import type { TestServer } from '../support/server.ts';

export const LEDGER = 'https://ledger.api.example';
export const LEDGER_REDIRECT = 'https://ledger-app.example/callback';

export interface Credentials {
  id: string;
  secret: string;
}

export interface Ledger {
  person: { id: string; email: string };
  app: Credentials;
  resourceServer: Credentials;
}

export async function seedLedger(server: TestServer, email = 'lena@example.com'): Promise<Ledger> {
  const { catalogue, clients, accounts, roles } = server.app.services;
  const api = await catalogue.create({
    identifier: LEDGER,
    name: 'Ledger',
    tokenFormat: 'opaque',
    accessTokenTtl: 300,
    scopes: [{ name: 'ledger:read', description: 'Read the ledger' }],
  });
  await roles.create({ name: 'ledger-reader', scopes: ['ledger:read'] });
  const person = await accounts.create({ email, password: PASSWORD, roles: ['ledger-reader'] });
  const app = await clients.create({
    name: 'Ledger app',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: [LEDGER_REDIRECT],
    authMethod: 'client_secret_basic',
    apiAccess: { [LEDGER]: ['ledger:read'] },
    firstParty: true,
  });
  const rs = await clients.create({
    name: 'Ledger API',
    grantTypes: ['client_credentials'],
    authMethod: 'client_secret_basic',
    apiAccess: { [LEDGER]: ['ledger:read'] },
  });
  // The Ledger API's backend may introspect its tokens.
  await catalogue.changeResourceServers(api.id, { add: [rs.client.clientId] });
  return {
    person: { id: person.id, email: person.email },
    app: { id: app.client.clientId, secret: app.secret! },
    resourceServer: { id: rs.client.clientId, secret: rs.secret! },
  };
}

const basic = (c: Credentials) => `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`;

export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of several endpoints
  body: any;
}

async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: res.status, body };
}

/** A form POST to an endpoint of `server`, authenticated as `client`. */
export async function post(
  server: TestServer,
  path: string,
  client: Credentials,
  form: Record<string, string>,
): Promise<Reply> {
  return reply(
    await fetch(server.url(path), {
      method: 'POST',
      headers: {
        authorization: basic(client),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(form),
    }),
  );
}

export const introspect = async (server: TestServer, ledger: Ledger, token: string) =>
  (await post(server, '/token/introspection', ledger.resourceServer, { token })).body as {
    active: boolean;
  };

export const userinfo = async (server: TestServer, accessToken: string) =>
  reply(await fetch(server.url('/me'), { headers: { authorization: `Bearer ${accessToken}` } }));

export interface Tokens {
  access_token: string;
  refresh_token?: string;
}

/**
 * Signs the person in on `server` in a new browser and returns an unredeemed code. With `resource`
 * the tokens are for the ledger; without, the access token is for userinfo only.
 */
export async function codeFor(
  server: TestServer,
  ledger: Ledger,
  { resource = true }: { resource?: boolean } = {},
): Promise<{ code: string; verifier: string; browser: HttpBrowser; resource: boolean }> {
  const browser = new HttpBrowser();
  const { code, verifier, page } = await loginForCode(browser, {
    issuer: server.issuer,
    clientId: ledger.app.id,
    redirectUri: LEDGER_REDIRECT,
    scope: resource ? 'openid ledger:read' : 'openid',
    resource: resource ? LEDGER : undefined,
    email: ledger.person.email,
    password: PASSWORD,
  });
  assert.ok(code, `signed in and got a code: ${page.status} ${page.html.slice(0, 300)}`);
  return { code, verifier, browser, resource };
}

export const redeem = (
  server: TestServer,
  ledger: Ledger,
  { code, verifier, resource = true }: { code: string; verifier: string; resource?: boolean },
) =>
  post(server, '/token', ledger.app, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    redirect_uri: LEDGER_REDIRECT,
    // Naming the resource gets the ledger's access token (without it, one for userinfo).
    ...(resource ? { resource: LEDGER } : {}),
  });

export const refresh = (server: TestServer, ledger: Ledger, refreshToken: string) =>
  post(server, '/token', ledger.app, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    resource: LEDGER,
  });

/** Signs in and redeems the code: the person's tokens for the ledger (or for userinfo). */
export async function signIn(
  server: TestServer,
  ledger: Ledger,
  options: { resource?: boolean } = {},
): Promise<Tokens & { browser: HttpBrowser }> {
  const { browser, ...code } = await codeFor(server, ledger, options);
  const redeemed = await redeem(server, ledger, code);
  assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
  return { ...(redeemed.body as Tokens), browser };
}

/** The exact body of a refused code or refresh token (RFC 6749 section 5.2). */
export const INVALID_GRANT = {
  error: 'invalid_grant',
  error_description: 'grant request is invalid',
};

/** Waits until `check` holds (protocol events are recorded after the response is sent). */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  ms = 3000,
): Promise<T> {
  const until = Date.now() + ms;
  let value = await read();
  while (!check(value) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 25));
    value = await read();
  }
  return value;
}
