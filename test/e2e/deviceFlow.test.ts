// The device flow in a real browser: openid-client plays a TV that starts a device authorization;
// Chromium opens the device page, enters the code, confirms it, signs in and consents, and sees
// the success page; the TV's polling then gets its tokens. Also: a wrong code told on the page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { BANK_API, PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { launchBrowser, openContext } from './support/browser.ts';
import { loginFlows } from './support/flows.ts';

describe('device flow in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let tv: oidc.Configuration;
  let userId: string;

  before(async () => {
    browser = await launchBrowser();
    server = await startTestServer({ env: { DEVICE_POLL_INTERVAL_SECONDS: '1' } });
    const { catalogue, clients, accounts, roles } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      scopes: [{ name: 'accounts:read', description: 'See your accounts and balances' }],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read'] });
    userId = (
      await accounts.create({ email: 'alice@example.com', password: PASSWORD, roles: ['customer'] })
    ).id;
    const { client } = await clients.create({
      name: 'Bank TV',
      grantTypes: ['device_code'],
      authMethod: 'none',
      apiAccess: { [BANK_API]: ['accounts:read'] },
    });
    tv = await oidc.discovery(new URL(server.issuer), client.clientId, {}, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  const flows = loginFlows(
    () => tv,
    () => '',
  );

  test('enter the code, sign in, consent: the TV gets its tokens', async (t) => {
    const started = await oidc.initiateDeviceAuthorization(tv, {
      scope: 'openid accounts:read',
      resource: BANK_API,
    });
    const polling = oidc.pollDeviceAuthorizationGrant(tv, started, { resource: BANK_API });
    const { page, done } = await openContext(browser, t.name);
    try {
      await page.goto(started.verification_uri);
      await page.getByRole('heading', { name: 'Connect a device' }).waitFor();

      // A wrong code first: told on the page, the form stays.
      const input = page.getByLabel('Enter the code your device shows');
      await input.fill('BBBB-BBBB');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByText('That code is not right').waitFor();

      // Typed as a person would: lower case, without the dash.
      await input.fill(started.user_code.toLowerCase().replace('-', ''));
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'Connect Bank TV?' }).waitFor();
      assert.equal(await page.locator('#user-code').textContent(), started.user_code);
      await page.getByRole('button', { name: 'Continue' }).click();

      await flows.password(page);
      await page.getByRole('heading', { name: 'Allow Bank TV access?' }).waitFor();
      assert.ok(await page.getByText('See your accounts and balances').isVisible());
      await page.getByRole('button', { name: 'Allow' }).click();

      await page.getByRole('heading', { name: 'Your device is connected' }).waitFor();
      const csp = (await page.goto(server.url('/device')))?.headers()['content-security-policy'];
      assert.match(csp ?? '', /script-src 'self'/, 'the device page is served under the CSP');
    } finally {
      await done();
    }

    const tokens = await polling;
    assert.equal(tokens.claims()?.sub, userId);
    assert.equal(tokens.scope, 'accounts:read');
  });
});
