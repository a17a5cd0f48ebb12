// Front-Channel Logout 1.0 in a real browser: after "Sign out", Chromium loads the client's
// frontchannel_logout_uri in an iframe with iss and sid (the page's CSP lets exactly that origin
// be framed, and nothing is refused), then goes on to the post-logout redirect URI.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { BANK_API, PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { launchBrowser, openContext, startCallbackServer } from './support/browser.ts';
import { loginFlows } from './support/flows.ts';

describe('front-channel logout in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let app: Awaited<ReturnType<typeof startCallbackServer>>;
  let rp: oidc.Configuration;
  let redirectUri: string;

  before(async () => {
    browser = await launchBrowser();
    app = await startCallbackServer();
    redirectUri = `${app.url}/callback`;
    server = await startTestServer();
    const { catalogue, clients, accounts, roles } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      scopes: [{ name: 'accounts:read', description: 'See your accounts and balances' }],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read'] });
    await accounts.create({ email: 'alice@example.com', password: PASSWORD, roles: ['customer'] });
    const { client, secret } = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code'],
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [`${app.url}/signed-out`],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read'] },
      firstParty: true,
      frontchannelLogoutUri: `${app.url}/frontchannel`,
    });
    rp = await oidc.discovery(
      new URL(server.issuer),
      client.clientId,
      { redirect_uris: [redirectUri] },
      oidc.ClientSecretBasic(secret!),
      { execute: [oidc.allowInsecureRequests] },
    );
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await app?.close();
  });

  test('the signed-out page frames the client with iss and sid, then goes on', async (t) => {
    const flows = loginFlows(
      () => rp,
      () => redirectUri,
    );
    const { page, done } = await openContext(browser, t.name);
    const refused: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to frame/i.test(m.text())) refused.push(m.text());
    });
    const checks = await flows.startLogin(page, 'accounts:read');
    await flows.password(page);
    const tokens = await flows.tokensFrom(page, checks);
    const sid = tokens.claims()?.sid;
    assert.equal(typeof sid, 'string');

    await page.goto(
      oidc.buildEndSessionUrl(rp, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: `${app.url}/signed-out`,
      }).href,
    );
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
    const framed = page.frames().find((f) => f.url().startsWith(`${app.url}/frontchannel`));
    assert.ok(framed, 'the client is framed');
    await framed.waitForLoadState('load');
    const called = new URL(framed.url());
    assert.equal(called.searchParams.get('iss'), server.issuer);
    assert.equal(called.searchParams.get('sid'), sid);
    assert.ok(
      app.hits.some((h) => h.startsWith('/frontchannel?')),
      "the client's page was requested",
    );
    await page.waitForURL(`${app.url}/signed-out**`, { timeout: 10_000 });
    assert.deepEqual(refused, [], 'the CSP refused nothing');
    await done();
  });
});
