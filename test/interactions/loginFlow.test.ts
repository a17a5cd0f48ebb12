// The authorization code flow over HTTP with openid-client as the relying party: sign-in,
// consent narrowed by roles, tokens, userinfo, refresh rotation and reuse, single-use codes,
// logout, and the account page's revocation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { HttpBrowser, loginForCode } from '../support/browserless.ts';
import { BANK_API, type Bank, PASSWORD, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('authorization code flow', () => {
  let server: TestServer;
  let bank: Bank;

  const login = (browser = new HttpBrowser(), extra: Record<string, string> = {}) =>
    loginForCode(browser, {
      issuer: server.issuer,
      clientId: bank.client.id,
      redirectUri: REDIRECT_URI,
      scope: 'openid email profile offline_access accounts:read payments:write',
      resource: BANK_API,
      email: 'alice@example.com',
      password: PASSWORD,
      extra,
    });

  /** Signs in (the browser keeps the session) and redeems the code with openid-client. */
  const signIn = async (browser = new HttpBrowser()) => {
    const { redirect, verifier } = await login(browser);
    assert.ok(redirect, 'redirected back to the client');
    const rp = await bank.rp();
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      redirect,
      { pkceCodeVerifier: verifier, expectedState: redirect.searchParams.get('state')! },
      { resource: BANK_API },
    );
    return { rp, tokens };
  };

  const redeem = async (code: string, verifier: string) =>
    fetch(server.url('/token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${bank.client.id}:${bank.client.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: REDIRECT_URI,
        resource: BANK_API,
      }),
    });

  before(async () => {
    server = await startTestServer();
    bank = await seedBank(server);
  });
  after(() => server.close());

  test('sign-in, consent, tokens scoped as consented and allowed by role, userinfo, refresh', async () => {
    const browser = new HttpBrowser();
    const { redirect, verifier } = await login(browser);
    assert.ok(redirect, 'redirected back to the client');
    assert.equal(redirect.searchParams.get('iss'), server.issuer, 'RFC 9207 iss in the response');

    const rp = await bank.rp();
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      redirect,
      { pkceCodeVerifier: verifier, expectedState: redirect.searchParams.get('state')! },
      { resource: BANK_API },
    );
    const claims = tokens.claims()!;
    assert.equal(claims.sub, bank.alice.id);
    assert.equal(claims.email, 'alice@example.com');
    // payments:write was asked for and allowed for the client, but no role of Alice grants it.
    assert.equal(tokens.scope?.split(' ').sort().join(' '), 'accounts:read');
    const jwks = createLocalJWKSet(
      (await (await fetch(server.url('/jwks'))).json()) as JSONWebKeySet,
    );
    const { payload } = await jwtVerify(tokens.access_token, jwks, {
      audience: BANK_API,
      issuer: server.issuer,
    });
    assert.equal(payload.scope, 'accounts:read');
    assert.equal(payload.sub, bank.alice.id);

    // Without a resource, the refresh returns a token for userinfo (RFC 8707).
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'refresh tokens rotate');
    const info = await oidc.fetchUserInfo(rp, refreshed.access_token, bank.alice.id);
    assert.deepEqual(
      { email: info.email, name: info.name },
      { email: 'alice@example.com', name: 'Alice Liddell' },
    );

    // The grant records exactly what was approved.
    const [grant] = await server.app.services.grants.list(bank.alice.id);
    assert.deepEqual(grant?.resources, { [BANK_API]: ['accounts:read'] });
    // offline_access is only granted with prompt=consent (OpenID Connect Core 11).
    assert.deepEqual(grant?.oidcScopes.sort(), ['email', 'openid', 'profile']);
  });

  test('the consent page names the client and describes each scope of each API', async () => {
    const browser = new HttpBrowser();
    const page = await browser.open(
      `${server.issuer}/auth?${new URLSearchParams({
        client_id: bank.client.id,
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        scope: 'openid accounts:read payments:write',
        resource: BANK_API,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        prompt: 'consent',
      })}`,
      server.issuer,
    );
    const consent = await browser.submit(
      page,
      /\/login$/,
      { email: 'alice@example.com', password: PASSWORD },
      server.issuer,
    );
    assert.match(consent.html, /<h1>Allow Budget Planner access\?<\/h1>/);
    assert.match(consent.html, /<h2>Bank API<\/h2>/);
    assert.match(consent.html, /See your accounts and balances <code>accounts:read<\/code>/);
    assert.doesNotMatch(consent.html, /Make payments from your accounts/);
    assert.match(consent.html, /Your account cannot grant: <code>payments:write<\/code>/);
  });

  test('denying consent returns access_denied to the client', async () => {
    const browser = new HttpBrowser();
    const { redirect } = await loginForCode(browser, {
      issuer: server.issuer,
      clientId: bank.client.id,
      redirectUri: REDIRECT_URI,
      scope: 'openid accounts:read',
      resource: BANK_API,
      email: 'alice@example.com',
      password: PASSWORD,
      consent: 'deny',
      extra: { prompt: 'consent' },
    });
    assert.equal(redirect?.searchParams.get('error'), 'access_denied');
    assert.equal(redirect?.searchParams.get('code'), null);
  });

  test('50 concurrent redemptions of one code yield exactly one token response', async () => {
    const { code, verifier } = await login();
    const responses = await Promise.all(Array.from({ length: 50 }, () => redeem(code!, verifier)));
    const ok = responses.filter((r) => r.status === 200);
    assert.equal(ok.length, 1);
    for (const r of responses.filter((r) => r.status !== 200)) {
      assert.equal(r.status, 400);
      assert.equal(((await r.json()) as { error: string }).error, 'invalid_grant');
    }
  });

  test('a replayed refresh token revokes its grant', async () => {
    const { rp, tokens } = await signIn();
    const grantsOf = () =>
      server.db
        .knex('oidc_artifacts')
        .where({ model: 'Grant', account_id: bank.alice.id })
        .pluck('id');
    const before = await grantsOf();
    const first = await oidc.refreshTokenGrant(rp, tokens.refresh_token!, { resource: BANK_API });
    await assert.rejects(
      oidc.refreshTokenGrant(rp, tokens.refresh_token!, { resource: BANK_API }),
      {
        error: 'invalid_grant',
        error_description: 'grant request is invalid',
      },
    );
    // The whole grant is gone: the rotated refresh token no longer works either.
    await assert.rejects(oidc.refreshTokenGrant(rp, first.refresh_token!, { resource: BANK_API }), {
      error: 'invalid_grant',
    });
    const after = await grantsOf();
    assert.equal(after.length, before.length - 1);
    const revoked = before.filter((id) => !after.includes(id));
    assert.equal(
      await server.db
        .knex('oidc_artifacts')
        .whereIn('grant_id', revoked)
        .count('* as n')
        .first()
        .then((r) => Number(r!.n)),
      0,
    );
  });

  test('prompt=login asks for the password again although a session exists', async () => {
    const browser = new HttpBrowser();
    assert.ok((await login(browser)).code);
    const again = await login(browser, { prompt: 'login' });
    assert.ok(again.code, 'signed in again');
    // Without prompt=login the existing session is used: no login form is shown.
    const { page } = await loginForCode(browser, {
      issuer: server.issuer,
      clientId: bank.client.id,
      redirectUri: REDIRECT_URI,
      scope: 'openid accounts:read',
      resource: BANK_API,
      email: 'nobody@example.com',
      password: 'unused',
    });
    assert.match(page.location ?? '', /code=/);
  });

  test('the session expires after the idle limit and at most at the absolute limit', async () => {
    const browser = new HttpBrowser();
    await login(browser);
    const row = await server.db
      .knex('oidc_artifacts')
      .where({ model: 'Session', account_id: bank.alice.id })
      .orderBy('expires_at', 'desc')
      .first();
    const left = (new Date(row.expires_at).getTime() - Date.now()) / 1000;
    assert.ok(left > 1700 && left <= 1800, `idle limit of 30 minutes, got ${left}s`);
  });

  test('a refresh token bound to the browser session stops working when the session is gone', async () => {
    const { rp, tokens } = await signIn();
    // Refreshing reads the token, its grant and its session in one statement: while the
    // session lives, a refresh works.
    const next = await oidc.refreshTokenGrant(rp, tokens.refresh_token!, { resource: BANK_API });
    assert.ok(next.access_token);
    // The session ends (as the sweep deletes an expired one): the token is refused.
    const { session_uid } = await server.db
      .knex('oidc_artifacts')
      .where({ model: 'Session', account_id: bank.alice.id })
      .orderBy('expires_at', 'desc')
      .first('session_uid');
    await server.db.knex('oidc_artifacts').where({ model: 'Session', session_uid }).delete();
    await assert.rejects(oidc.refreshTokenGrant(rp, next.refresh_token!, { resource: BANK_API }), {
      error: 'invalid_grant',
      error_description: 'grant request is invalid',
    });
  });

  test('RP-initiated logout ends the server-side session', async () => {
    const browser = new HttpBrowser();
    const { rp, tokens } = await signIn(browser);
    const sessionsBefore = await server.db
      .knex('oidc_artifacts')
      .where({ model: 'Session', account_id: bank.alice.id })
      .count('* as n');
    const end = oidc.buildEndSessionUrl(rp, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: 'https://app.example/signed-out',
    });
    const confirm = await browser.open(end.href, server.issuer);
    assert.match(confirm.html, /Sign out of Budget Planner\?/);
    const done = await browser.submit(
      confirm,
      /\/session\/end\/confirm$/,
      { logout: 'yes' },
      server.issuer,
    );
    assert.equal(done.location, 'https://app.example/signed-out');
    const sessionsAfter = await server.db
      .knex('oidc_artifacts')
      .where({ model: 'Session', account_id: bank.alice.id })
      .count('* as n');
    assert.equal(Number(sessionsAfter[0]!.n), Number(sessionsBefore[0]!.n) - 1);
    // The logout is in the audit log (it never was while its action name broke the pattern), and
    // already when the response arrives: the response waits for its events (src/oidc/auditGate.ts).
    const { audit } = server.app.services;
    const logouts = await audit.query({ action: 'logout.success' });
    assert.deepEqual(
      logouts.events.map((e) => ({ actor: e.actor, outcome: e.outcome, details: e.details })),
      [
        {
          actor: { type: 'user', id: bank.alice.id },
          outcome: 'success',
          details: { client: bank.client.id },
        },
      ],
    );
    // The next authorization asks for the password again.
    const next = await browser.open(
      `${server.issuer}/auth?${new URLSearchParams({ client_id: bank.client.id, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`,
      server.issuer,
    );
    assert.match(next.html, /autocomplete="current-password"/);
  });

  test('the account page lists what was allowed, and revoking ends the grant and its tokens', async () => {
    const browser = new HttpBrowser();
    const { rp, tokens } = await signIn(browser);
    const page = await browser.open(server.url('/account'));
    assert.match(page.html, /Signed in as <strong>alice@example.com<\/strong>/);
    assert.match(page.html, /Budget Planner/);
    const revoked = await browser.submit(
      page,
      new RegExp(`/account/clients/${bank.client.id}/revoke$`),
      {},
    );
    assert.match(revoked.html, /Access revoked/);
    // Gone from the allowed applications (the session list below still names what it signed in to).
    assert.doesNotMatch(revoked.html.split('<h2 id="sessions">')[0]!, /Budget Planner/);
    const left = await server.app.services.grants.list(bank.alice.id);
    assert.ok(left.every((g) => g.clientId !== bank.client.id));
    await assert.rejects(oidc.refreshTokenGrant(rp, tokens.refresh_token!), {
      error: 'invalid_grant',
    });
  });

  test('the account page signs the person in first when there is no session', async () => {
    const browser = new HttpBrowser();
    const page = await browser.open(server.url('/account'));
    assert.match(page.html, /autocomplete="current-password"/);
    const account = await browser.submit(page, /\/login$/, {
      email: 'alice@example.com',
      password: PASSWORD,
    });
    assert.match(account.html, /<h1>Your account<\/h1>/);
  });
});

describe('first-party clients', () => {
  let server: TestServer;
  let bank: Bank;
  before(async () => {
    server = await startTestServer();
    bank = await seedBank(server, { firstParty: true });
  });
  after(() => server.close());

  test('skip the consent page, and the grant still holds only what the role allows', async () => {
    const browser = new HttpBrowser();
    const { code, page } = await loginForCode(browser, {
      issuer: server.issuer,
      clientId: bank.client.id,
      redirectUri: REDIRECT_URI,
      scope: 'openid accounts:read payments:write',
      resource: BANK_API,
      email: 'alice@example.com',
      password: PASSWORD,
    });
    assert.ok(code, page.html);
    const [grant] = await server.app.services.grants.list(bank.alice.id);
    assert.deepEqual(grant?.resources, { [BANK_API]: ['accounts:read'] });
  });
});
