// More of the protocol: PAR, the other signing algorithms, cancel at sign-in, max_age, cookies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import {
  authorizationUrl,
  findForm,
  HttpBrowser,
  loginForCode,
  pkce,
} from '../support/browserless.ts';
import { BANK_API, type Bank, PASSWORD, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('protocol details', () => {
  let server: TestServer;
  let bank: Bank;
  before(async () => {
    server = await startTestServer();
    bank = await seedBank(server);
  });
  after(() => server.close());

  test('PAR: the authorization request is pushed, then referenced by request_uri', async () => {
    const rp = await bank.rp();
    const { verifier, challenge } = pkce();
    const url = await oidc.buildAuthorizationUrlWithPAR(rp, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid accounts:read',
      resource: BANK_API,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'par-state',
    });
    assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
    assert.match(url.searchParams.get('request_uri')!, /^urn:ietf:params:oauth:request_uri:/);
    const browser = new HttpBrowser();
    let page = await browser.open(url.href, server.issuer);
    page = await browser.submit(
      page,
      /\/login$/,
      { email: 'alice@example.com', password: PASSWORD },
      server.issuer,
    );
    page = await browser.submit(page, /\/consent$/, { decision: 'approve' }, server.issuer);
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      new URL(page.location!),
      { pkceCodeVerifier: verifier, expectedState: 'par-state' },
      { resource: BANK_API },
    );
    assert.equal(tokens.scope, 'accounts:read');
    // The request_uri is single use.
    const again = await new HttpBrowser().open(url.href, server.issuer);
    assert.equal(again.status, 400);
    assert.match(
      again.html,
      /request_uri is invalid, expired, or was already used|invalid_request_uri/,
    );
  });

  test('PKCE is required, and only S256', async () => {
    const browser = new HttpBrowser();
    const base = {
      client_id: bank.client.id,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      state: 's',
    };
    const missing = await browser.request(`${server.issuer}/auth?${new URLSearchParams(base)}`);
    assert.match(
      new URL(missing.location!).search,
      /error=invalid_request&error_description=Authorization\+Server\+policy\+requires\+PKCE/,
    );
    const plain = await browser.request(
      `${server.issuer}/auth?${new URLSearchParams({ ...base, code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' })}`,
    );
    assert.match(new URL(plain.location!).search, /error=invalid_request/);
  });

  test('cancelling at the sign-in page returns access_denied to the client', async () => {
    const browser = new HttpBrowser();
    const { challenge } = pkce();
    const page = await browser.open(
      authorizationUrl({
        issuer: server.issuer,
        clientId: bank.client.id,
        redirectUri: REDIRECT_URI,
        scope: 'openid',
        challenge,
        state: 'c',
      }),
      server.issuer,
    );
    const cancelled = await browser.submit(page, /\/abort$/, {}, server.issuer);
    const target = new URL(cancelled.location!);
    assert.equal(target.searchParams.get('error'), 'access_denied');
    assert.equal(target.searchParams.get('state'), 'c');
  });

  test('max_age=0 asks for the password again; cookies are HttpOnly and SameSite=Lax', async () => {
    const browser = new HttpBrowser();
    const first = await loginForCode(browser, {
      issuer: server.issuer,
      clientId: bank.client.id,
      redirectUri: REDIRECT_URI,
      scope: 'openid',
      email: 'alice@example.com',
      password: PASSWORD,
    });
    assert.ok(first.code);
    const { challenge } = pkce();
    const start = await browser.request(
      authorizationUrl({
        issuer: server.issuer,
        clientId: bank.client.id,
        redirectUri: REDIRECT_URI,
        scope: 'openid',
        challenge,
        state: 'm',
        extra: { max_age: '0' },
      }),
    );
    const page = await browser.follow(start, server.issuer);
    assert.ok(findForm(page.html, /\/login$/), 'the sign-in form again');

    const res = await fetch(start.url, {
      redirect: 'manual',
      headers: { cookie: browser.jar.header(start.url) },
    });
    const cookies = res.headers.getSetCookie();
    assert.ok(cookies.length > 0);
    for (const c of cookies) {
      assert.match(c, /; httponly/i);
      assert.match(c, /; samesite=lax/i);
    }
  });
});

for (const alg of ['PS256', 'Ed25519'] as const) {
  describe(`signing with ${alg}`, () => {
    let server: TestServer;
    let bank: Bank;
    before(async () => {
      server = await startTestServer({ env: { SIGNING_ALG: alg } });
      bank = await seedBank(server);
    });
    after(() => server.close());

    test('ID tokens and JWT access tokens are signed with it and verify against JWKS', async () => {
      const { redirect, verifier } = await loginForCode(new HttpBrowser(), {
        issuer: server.issuer,
        clientId: bank.client.id,
        redirectUri: REDIRECT_URI,
        scope: 'openid accounts:read',
        resource: BANK_API,
        email: 'alice@example.com',
        password: PASSWORD,
      });
      const rp = await bank.rp();
      const tokens = await oidc.authorizationCodeGrant(
        rp,
        redirect!,
        { pkceCodeVerifier: verifier, expectedState: redirect!.searchParams.get('state')! },
        { resource: BANK_API },
      );
      const jwks = createLocalJWKSet(
        (await (await fetch(server.url('/jwks'))).json()) as JSONWebKeySet,
      );
      for (const token of [tokens.id_token!, tokens.access_token]) {
        assert.equal(decodeProtectedHeader(token).alg, alg);
        await jwtVerify(token, jwks, { issuer: server.issuer });
      }
    });
  });
}
