// The login in a real browser: Chromium follows an authorization URL built by openid-client for
// a confidential client, signs in, consents and lands on the client; openid-client redeems the
// code. Also: the generic error, the lockout, denial, an unregistered redirect URI, logout.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { manualClock } from '../../src/clock.ts';
import { GENERIC_SIGN_IN_ERROR } from '../../src/interactions/login.ts';
import { BANK_API, PASSWORD } from '../support/fixtures.ts';
import { english } from '../support/i18n.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { launchBrowser, openContext, startCallbackServer } from './support/browser.ts';
import { loginFlows } from './support/flows.ts';

describe('login in the browser', () => {
  const clock = manualClock();
  let server: TestServer;
  let browser: Browser;
  let app: Awaited<ReturnType<typeof startCallbackServer>>;
  let rp: oidc.Configuration;
  let redirectUri: string;
  let userId: string;

  before(async () => {
    browser = await launchBrowser();
    app = await startCallbackServer();
    redirectUri = `${app.url}/callback`;
    server = await startTestServer({ clock });
    const { catalogue, clients, accounts, roles } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      scopes: [
        { name: 'accounts:read', description: 'See your accounts and balances' },
        { name: 'payments:write', description: 'Make payments from your accounts' },
      ],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read', 'payments:write'] });
    userId = (
      await accounts.create({
        email: 'alice@example.com',
        name: 'Alice Liddell',
        password: PASSWORD,
        roles: ['customer'],
      })
    ).id;
    await accounts.create({ email: 'mallory@example.com', password: PASSWORD });
    const { client, secret } = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [`${app.url}/signed-out`],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read'] },
    });
    rp = await oidc.discovery(
      new URL(server.issuer),
      client.clientId,
      { redirect_uris: [redirectUri] },
      oidc.ClientSecretBasic(secret!),
      {
        execute: [oidc.allowInsecureRequests],
      },
    );
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await app?.close();
  });

  const flows = loginFlows(
    () => rp,
    () => redirectUri,
  );
  const startLogin = (page: Page, extra: Record<string, string> = {}) =>
    flows.startLogin(page, 'email profile accounts:read', extra);
  const signIn = (page: Page, email: string, password: string) =>
    flows.password(page, email, password);

  test('sign in, consent, redeem the code, userinfo, refresh, logout', async (t) => {
    const { page, done } = await openContext(browser, t.name);
    const checks = await startLogin(page);
    assert.equal(await page.getByLabel('Email').getAttribute('autocomplete'), 'username');
    assert.equal(
      await page.getByLabel('Password').getAttribute('autocomplete'),
      'current-password',
    );
    await signIn(page, 'alice@example.com', PASSWORD);

    await page.getByRole('heading', { name: 'Allow Budget Planner access?' }).waitFor();
    assert.ok(await page.getByText('See your accounts and balances').isVisible());
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${redirectUri}?**`);

    const tokens = await oidc.authorizationCodeGrant(
      rp,
      new URL(page.url()),
      {
        pkceCodeVerifier: checks.verifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      },
      { resource: BANK_API },
    );
    assert.equal(tokens.claims()?.sub, userId);
    assert.equal(tokens.scope, 'accounts:read');

    const forUserinfo = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    const info = await oidc.fetchUserInfo(rp, forUserinfo.access_token, userId);
    assert.equal(info.email, 'alice@example.com');
    const refreshed = await oidc.refreshTokenGrant(rp, forUserinfo.refresh_token!, {
      resource: BANK_API,
    });
    assert.equal(refreshed.scope, 'accounts:read');

    await page.goto(
      oidc.buildEndSessionUrl(rp, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: `${app.url}/signed-out`,
      }).href,
    );
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${app.url}/signed-out**`);
    await startLogin(page);
    assert.ok(
      await page.getByLabel('Password').isVisible(),
      'the session has ended: the password is asked again',
    );
    await done();
  });

  test('a wrong password shows the generic error', async (t) => {
    const { page, done } = await openContext(browser, t.name);
    await startLogin(page);
    await signIn(page, 'alice@example.com', 'not my password at all');
    assert.equal(await page.getByRole('alert').textContent(), english(GENERIC_SIGN_IN_ERROR));
    assert.equal(await page.getByLabel('Email').inputValue(), 'alice@example.com');
    await done();
  });

  test('the lockout engages after five failures and releases after a minute', async (t) => {
    const { page, done } = await openContext(browser, t.name);
    await startLogin(page);
    for (let i = 0; i < 5; i++) await signIn(page, 'mallory@example.com', `guess number ${i}`);
    await signIn(page, 'mallory@example.com', PASSWORD);
    assert.equal(
      await page.getByRole('alert').textContent(),
      english(GENERIC_SIGN_IN_ERROR),
      'locked: the right password fails',
    );
    clock.advance(61_000);
    await signIn(page, 'mallory@example.com', PASSWORD);
    await page.getByRole('heading', { name: 'Allow Budget Planner access?' }).waitFor();
    await done();
  });

  test('denying consent returns access_denied to the client', async (t) => {
    const { page, done } = await openContext(browser, t.name);
    const { state } = await startLogin(page, { prompt: 'consent' });
    await signIn(page, 'alice@example.com', PASSWORD);
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL(`${redirectUri}?**`);
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('error'), 'access_denied');
    assert.equal(url.searchParams.get('state'), state);
    await done();
  });

  test('an unregistered redirect URI shows an error page and never redirects', async (t) => {
    const { page, done } = await openContext(browser, t.name);
    const before = app.hits.length;
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: `${app.url}/evil`,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const response = await page.goto(url.href);
    assert.equal(response?.status(), 400);
    assert.ok(page.url().startsWith(server.issuer));
    // The person reads a plain sentence in their language; the library's description is kept
    // below it for the developer.
    assert.equal(
      (await page.getByRole('alert').textContent()) ?? '',
      "The application's request could not be completed.",
    );
    assert.match(
      (await page.locator('main, body').first().textContent()) ?? '',
      /redirect_uri did not match any of the client's registered redirect_uris/,
    );
    assert.equal(app.hits.length, before, 'the client application was never contacted');
    await done();
  });
});
