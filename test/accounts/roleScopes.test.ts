// Role scopes are (API, scope) pairs: two APIs may both define `write`, and a role granting one
// API's `write` gives nothing on the other — not on the consent page, not in a token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { authorizationUrl, HttpBrowser, pkce } from '../support/browserless.ts';
import { PASSWORD, REDIRECT_URI } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const API_A = 'https://ledger-a.api.example';
const API_B = 'https://payments-b.api.example';

describe('role scopes per API', () => {
  let server: TestServer;
  let client: { id: string; secret: string };

  /** Signs in, shows the consent page, approves it, and returns the page shown and the code. */
  async function consentAndCode(o: {
    email: string;
    scope: string;
    resource: string;
    prompt?: string;
  }) {
    const browser = new HttpBrowser();
    const { verifier, challenge } = pkce();
    let page = await browser.open(
      authorizationUrl({
        issuer: server.issuer,
        clientId: client.id,
        redirectUri: REDIRECT_URI,
        scope: o.scope,
        resource: o.resource,
        challenge,
        state: 'st',
        ...(o.prompt ? { extra: { prompt: o.prompt } } : {}),
      }),
      server.issuer,
    );
    page = await browser.submit(
      page,
      /\/login$/,
      { email: o.email, password: PASSWORD },
      server.issuer,
    );
    const consentPage = page.html;
    assert.match(consentPage, /<h1>Allow Two Banks access\?<\/h1>/, 'the consent page is shown');
    page = await browser.submit(page, /\/consent$/, { decision: 'approve' }, server.issuer);
    assert.ok(page.location?.startsWith(REDIRECT_URI), page.html);
    const code = new URL(page.location!).searchParams.get('code')!;
    return { consentPage, code, verifier };
  }

  async function tokenRequest(params: Record<string, string>) {
    const res = await fetch(server.url('/token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(params),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const redeem = (code: string, verifier: string, resource: string) =>
    tokenRequest({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
      resource,
    });

  async function accessTokenClaims(token: string, audience: string) {
    const jwks = createLocalJWKSet(
      (await (await fetch(server.url('/jwks'))).json()) as JSONWebKeySet,
    );
    return (await jwtVerify(token, jwks, { audience, issuer: server.issuer })).payload;
  }

  before(async () => {
    server = await startTestServer();
    const { catalogue, roles, accounts, clients } = server.app.services;
    await catalogue.create({
      identifier: API_A,
      name: 'Ledger A',
      scopes: [{ name: 'write', description: 'Write entries in ledger A' }],
    });
    // Made while API A is the only one defining `write`: the role is for A's write.
    await roles.create({ name: 'a-writer', scopes: ['write'] });
    await catalogue.create({
      identifier: API_B,
      name: 'Payments B',
      scopes: [
        { name: 'read', description: 'See payments at B' },
        { name: 'write', description: 'Send money from B' },
      ],
    });
    await accounts.create({
      email: 'mallory@example.com',
      password: PASSWORD,
      roles: ['a-writer'],
    });
    const created = await clients.create({
      name: 'Two Banks',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [REDIRECT_URI],
      authMethod: 'client_secret_basic',
      apiAccess: { [API_A]: ['write'], [API_B]: ['read', 'write'] },
    });
    client = { id: created.client.clientId, secret: created.secret! };
  });
  after(() => server.close());

  test("a role granting API A's write cannot grant API B's write: not offered, not in the token, not granted", async () => {
    const mallory = (await server.app.services.accounts.get('mallory@example.com'))!;
    const { consentPage, code, verifier } = await consentAndCode({
      email: 'mallory@example.com',
      scope: 'openid write',
      resource: API_B,
    });
    assert.doesNotMatch(consentPage, /Send money from B/, "B's write is not offered");
    assert.match(consentPage, /Your account cannot grant: <code>write<\/code>/);

    const reply = await redeem(code, verifier, API_B);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.scope, '', 'the token for B carries no write');
    const claims = await accessTokenClaims(String(reply.body.access_token), API_B);
    assert.equal(claims.scope, undefined, 'the access token for B carries no scope');

    const grants = await server.app.services.grants.list(mallory.id);
    assert.equal(grants.length, 1);
    assert.deepEqual(grants[0]!.resources, {}, 'nothing granted on B');
    const consent = (await server.app.services.audit.query({ action: 'consent.given' })).events;
    assert.deepEqual(consent.at(-1)!.details.resources, { [API_B]: [] });
    assert.deepEqual(consent.at(-1)!.details.refused, { [API_B]: ['write'] });
  });

  test("the same role still grants API A's write", async () => {
    const { consentPage, code, verifier } = await consentAndCode({
      email: 'mallory@example.com',
      scope: 'openid write',
      resource: API_A,
    });
    assert.match(consentPage, /Write entries in ledger A <code>write<\/code>/);
    const reply = await redeem(code, verifier, API_A);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.scope, 'write');
    const claims = await accessTokenClaims(String(reply.body.access_token), API_A);
    assert.equal(claims.scope, 'write');
  });

  test("at the token endpoint a person's token for B carries only their roles' scopes on B", async () => {
    const { accounts, roles } = server.app.services;
    await roles.create({ name: 'b-reader', scopes: { [API_B]: ['read'] } });
    await roles.create({ name: 'b-writer', scopes: { [API_B]: ['write'] } });
    await accounts.create({
      email: 'bob@example.com',
      password: PASSWORD,
      roles: ['a-writer', 'b-reader', 'b-writer'],
    });
    const { code, verifier } = await consentAndCode({
      email: 'bob@example.com',
      scope: 'openid offline_access read write',
      resource: API_B,
      prompt: 'consent',
    });
    const first = await redeem(code, verifier, API_B);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.scope, 'read write');
    assert.ok(first.body.refresh_token, 'a refresh token was issued');

    // B's write is taken away; A's write (same name) stays. The next token for B has no write.
    await roles.revoke('bob@example.com', 'b-writer');
    const refreshed = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: String(first.body.refresh_token),
      resource: API_B,
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.equal(refreshed.body.scope, 'read');
    const claims = await accessTokenClaims(String(refreshed.body.access_token), API_B);
    assert.equal(claims.scope, 'read');
  });
});
