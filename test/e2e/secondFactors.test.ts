// Second factors in a real browser: TOTP enrolment reading the key from the page, password +
// TOTP, a replayed code refused, recovery codes single use, and a step-up from level 1 to 2.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { manualClock } from '../../src/clock.ts';
import { BANK_API, PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { launchBrowser, openContext, startCallbackServer } from './support/browser.ts';
import { loginFlows } from './support/flows.ts';

const ACR_MFA = 'urn:portcullis:ac:mfa';

describe('second factors in the browser', () => {
  const clock = manualClock(Date.UTC(2026, 10, 29, 10, 0, 0));
  let server: TestServer;
  let browser: Browser;
  let app: Awaited<ReturnType<typeof startCallbackServer>>;
  let rp: oidc.Configuration;
  let redirectUri: string;
  let secret = '';
  let recovery: string[] = [];
  const code = () => generateSync({ secret, epoch: Math.floor(clock.now() / 1000) });

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
        {
          name: 'payments:write',
          description: 'Make payments from your accounts',
          requiredLevel: 2,
        },
      ],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read', 'payments:write'] });
    await accounts.create({ email: 'alice@example.com', password: PASSWORD, roles: ['customer'] });
    const { client, secret: clientSecret } = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code'],
      redirectUris: [redirectUri],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read', 'payments:write'] },
      firstParty: true,
    });
    rp = await oidc.discovery(
      new URL(server.issuer),
      client.clientId,
      { redirect_uris: [redirectUri] },
      oidc.ClientSecretBasic(clientSecret!),
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

  const { startLogin, password, tokensFrom } = loginFlows(
    () => rp,
    () => redirectUri,
  );

  async function enterCode(page: Page, value: string) {
    await page.getByLabel('Code from your authenticator app').fill(value);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForLoadState('load');
  }

  test('enrol an authenticator app by reading the key from the page', async (t) => {
    const { page, done } = await openContext(browser, t.name);
    const checks = await startLogin(page, 'payments:write');
    await password(page);
    await page.getByRole('heading', { name: 'Add a second factor' }).waitFor();
    assert.ok(
      await page.getByRole('img', { name: 'QR code for your authenticator app' }).isVisible(),
    );
    secret = await page.getByLabel('Key', { exact: true }).inputValue();
    const input = page.getByLabel('Code from the app');
    assert.equal(await input.getAttribute('autocomplete'), 'one-time-code');
    assert.equal(await input.getAttribute('inputmode'), 'numeric');
    await input.fill(code());
    await page.getByRole('button', { name: 'Add authenticator app' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    recovery = await page.locator('[data-recovery-codes] code').allTextContents();
    assert.equal(recovery.length, 10);
    await page.getByRole('button', { name: 'I have saved them, continue' }).click();
    // Adding the app did not sign in with it: the login asks for its next code.
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    assert.equal(
      await page.getByRole('status').textContent(),
      'Your authenticator app is added. To finish signing in, enter the next code it shows: the code you typed was used to add it.',
    );
    clock.advance(30_000);
    await enterCode(page, code());
    const tokens = await tokensFrom(page, checks);
    assert.equal(tokens.scope, 'payments:write');
    assert.equal(tokens.claims()?.acr, ACR_MFA);
    await done();
  });

  test('sign in with password and TOTP; the same code is refused the second time', async (t) => {
    clock.advance(30_000);
    const first = await openContext(browser, `${t.name} (first)`);
    const checks = await startLogin(first.page, 'payments:write');
    await password(first.page);
    const used = code();
    await enterCode(first.page, used);
    assert.deepEqual((await tokensFrom(first.page, checks)).claims()?.amr, ['pwd', 'otp', 'mfa']);
    await first.done();

    const second = await openContext(browser, `${t.name} (replay)`);
    await startLogin(second.page, 'payments:write');
    await password(second.page);
    await enterCode(second.page, used);
    assert.equal(
      await second.page.getByRole('alert').textContent(),
      'That code was already used. Wait for the next one.',
    );
    await second.done();
  });

  test('sign in with a recovery code; the same code fails the second time', async (t) => {
    const first = await openContext(browser, `${t.name} (first)`);
    const checks = await startLogin(first.page, 'payments:write');
    await password(first.page);
    await first.page.getByText('Use a recovery code instead').click();
    await first.page.getByLabel('Recovery code').fill(recovery[0]!);
    await first.page.getByRole('button', { name: 'Use recovery code' }).click();
    assert.equal((await tokensFrom(first.page, checks)).claims()?.acr, ACR_MFA);
    await first.done();

    const second = await openContext(browser, `${t.name} (again)`);
    await startLogin(second.page, 'payments:write');
    await password(second.page);
    await second.page.getByText('Use a recovery code instead').click();
    await second.page.getByLabel('Recovery code').fill(recovery[0]!);
    await second.page.getByRole('button', { name: 'Use recovery code' }).click();
    await second.page.waitForLoadState('load');
    assert.equal(
      await second.page.getByRole('alert').textContent(),
      'That recovery code is not right, or was already used.',
    );
    await second.done();
  });

  test('step-up: a level-1 session asking for payments:write is asked for the second factor only', async (t) => {
    clock.advance(30_000);
    const { page, done } = await openContext(browser, t.name);
    const low = await startLogin(page, 'accounts:read');
    await password(page);
    assert.equal((await tokensFrom(page, low)).claims()?.acr, 'urn:portcullis:ac:password');

    const high = await startLogin(page, 'payments:write');
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    assert.equal(await page.getByLabel('Password').count(), 0, 'no password asked again');
    await enterCode(page, code());
    const tokens = await tokensFrom(page, high);
    assert.equal(tokens.scope, 'payments:write');
    assert.equal(tokens.claims()?.acr, ACR_MFA);
    await done();
  });

  test('password, 4 wrong codes, password again: the fifth wrong code locks the second factor', async (t) => {
    const { accounts, totp } = server.app.services;
    const victim = await accounts.create({
      email: 'victim@example.com',
      password: PASSWORD,
      roles: ['customer'],
    });
    const seed = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    await totp.importConfirmed([{ userId: victim.id, secret: seed }]);
    const right = () => generateSync({ secret: seed, epoch: Math.floor(clock.now() / 1000) });
    const wrong = (n: number) => {
      const valid = [-1, 0, 1].map((step) =>
        generateSync({ secret: seed, epoch: Math.floor(clock.now() / 1000) + step * 30 }),
      );
      for (let i = n; ; i++)
        if (!valid.includes(String(100000 + i * 111))) return String(100000 + i * 111);
    };
    const hitsBefore = app.hits.length;
    const alerts: string[] = [];
    // Round 1: the password, then four wrong codes.
    const first = await openContext(browser, `${t.name} (1)`);
    await startLogin(first.page, 'payments:write');
    await password(first.page, 'victim@example.com');
    for (let i = 0; i < 4; i++) {
      await enterCode(first.page, wrong(i));
      alerts.push((await first.page.getByRole('alert').textContent()) ?? '');
    }
    await first.done();
    // Round 2: a new login with the right password again, then two more wrong codes.
    const second = await openContext(browser, `${t.name} (2)`);
    await startLogin(second.page, 'payments:write');
    await password(second.page, 'victim@example.com');
    for (let i = 4; i < 6; i++) {
      await enterCode(second.page, wrong(i));
      alerts.push((await second.page.getByRole('alert').textContent()) ?? '');
    }
    assert.deepEqual(alerts, [
      ...Array(5).fill('That code is not right. Try again.'),
      'Too many attempts. Wait a while and try again.',
    ]);
    // Even the right code is refused now; the login stays on its page.
    await enterCode(second.page, right());
    assert.equal(
      await second.page.getByRole('alert').textContent(),
      'Too many attempts. Wait a while and try again.',
    );
    assert.match(second.page.url(), /\/interaction\//);
    await second.done();
    assert.ok((await accounts.lockState('victim@example.com')).lockedUntil);
    assert.equal(app.hits.length, hitsBefore, 'the client application was never reached');
  });
});
