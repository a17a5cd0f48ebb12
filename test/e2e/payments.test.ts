// Payments in Chromium with the virtual authenticator: a payment pushed with PAR is shown in
// words and confirmed with a passkey on the consent page (even after a passkey sign-in); the same
// payment changed after the page was shown is refused; a person with an app code only is told a
// payment needs a passkey, and refusing ends in access_denied. The page fits a 390 px screen.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { generateSecret, generateSync } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { manualClock } from '../../src/clock.ts';
import { hashId } from '../../src/oidc/adapter.ts';
import { BANK_API, PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  addVirtualAuthenticator,
  launchBrowser,
  openContext,
  startCallbackServer,
} from './support/browser.ts';

const CHANGED =
  'The payment changed after you saw it. Nothing was paid; go back to the application and start again.';

const PAYMENT = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'EUR', amount: '1250.00' },
  creditorName: 'ACME GmbH',
  creditorAccount: { iban: 'DE89370400440532013000' },
  remittanceInformation: 'Invoice 2026-117',
};

describe('payments in the browser', () => {
  const clock = manualClock(Date.UTC(2026, 11, 1, 15, 0, 0));
  let server: TestServer;
  let browser: Browser;
  let app: Awaited<ReturnType<typeof startCallbackServer>>;
  let rp: oidc.Configuration;
  let redirectUri: string;
  let alice: Awaited<ReturnType<typeof openContext>>;
  let counters: () => Promise<number[]>;
  const tomSecret = generateSecret();

  before(async () => {
    browser = await launchBrowser();
    app = await startCallbackServer();
    redirectUri = `${app.url}/callback`;
    // WebAuthn refuses IP addresses as relying party: the issuer is http://localhost:<port>.
    server = await startTestServer({ clock, hostname: 'localhost' });
    const { catalogue, clients, accounts, roles, totp } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      tokenFormat: 'jwt',
      scopes: [
        { name: 'payments:write', description: 'Make payments', requiredLevel: 2 },
        { name: 'payments:execute', description: 'Execute consented payments' },
      ],
      detailTypes: ['payment_initiation'],
      consentScope: 'payments:execute',
    });
    await roles.create({ name: 'customer', scopes: ['payments:write'] });
    await accounts.create({ email: 'alice@example.com', password: PASSWORD, roles: ['customer'] });
    const tom = await accounts.create({
      email: 'tom@example.com',
      password: PASSWORD,
      roles: ['customer'],
    });
    await totp.importConfirmed([{ userId: tom.id, secret: tomSecret }]);
    const { client, secret } = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code'],
      redirectUris: [redirectUri],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['payments:write'] },
    });
    rp = await oidc.discovery(
      new URL(server.issuer),
      client.clientId,
      { redirect_uris: [redirectUri] },
      oidc.ClientSecretBasic(secret!),
      { execute: [oidc.allowInsecureRequests] },
    );

    // alice's browser and its authenticator: she adds a passkey from the account page.
    alice = await openContext(browser, 'payments alice');
    counters = await addVirtualAuthenticator(alice.context, alice.page);
    const { page } = alice;
    await page.goto(server.url('/account'));
    await signIn(page, 'alice@example.com');
    await page.getByRole('link', { name: 'Add a security key or passkey' }).click();
    await page.getByLabel('Name for this key').fill('Laptop passkey');
    await page.getByRole('button', { name: 'Add a security key or passkey' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
  });
  after(async () => {
    await alice?.done();
    await browser?.close();
    await server?.close();
    await app?.close();
  });

  async function signIn(page: Page, email: string) {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForLoadState('load');
  }

  /** Pushes the payment (PAR) and opens the authorization URL; returns the PKCE verifier and state. */
  async function startPayment(page: Page, details: unknown[] = [PAYMENT]) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(rp, {
      redirect_uri: redirectUri,
      scope: 'openid payments:write',
      resource: BANK_API,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      authorization_details: JSON.stringify(details),
    });
    await page.goto(url.href);
    return { verifier, state };
  }

  const consentOf = async (page: Page) => {
    const id = await page.locator('input[name="consent"]').first().getAttribute('value');
    return server.app.services.consents.find(id!);
  };

  test('a payment confirmed with a passkey on the consent page, after a passkey sign-in', async () => {
    const { page, context } = alice;
    await context.clearCookies();
    const checks = await startPayment(page);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page
      .getByRole('heading', { name: 'Allow Budget Planner to make this payment?' })
      .waitFor();
    // Signed in at level 3 already: the payment still needs its own assertion.
    assert.equal(await page.locator('[data-amount]').textContent(), '€1,250.00');
    assert.equal(await page.locator('[data-payee]').textContent(), 'ACME GmbH');
    assert.equal(await page.locator('[data-payee-account]').textContent(), 'DE89 •••• 3000');
    assert.equal(app.hits.length, 0, 'no code before the payment is confirmed');
    assert.equal(
      await page.locator('[data-webauthn-missing]').isVisible(),
      false,
      'the note for browsers without WebAuthn is hidden in one that has it',
    );

    // The page fits a phone screen.
    await page.setViewportSize({ width: 390, height: 844 });
    assert.equal(
      await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'),
      true,
      'no horizontal overflow at 390 px',
    );
    await page.setViewportSize({ width: 420, height: 860 });

    const consent = await consentOf(page);
    const [before] = await counters();
    await page.getByRole('button', { name: 'Confirm with passkey or security key' }).click();
    await page.waitForURL(`${redirectUri}?**`);
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      new URL(page.url()),
      { pkceCodeVerifier: checks.verifier, expectedState: checks.state },
      { resource: BANK_API },
    );
    const claims = JSON.parse(
      Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString('utf8'),
    );
    assert.deepEqual(claims.authorization_details, [PAYMENT]);
    assert.equal(claims.consent_id, consent!.id);
    assert.equal((await server.app.services.consents.find(consent!.id))?.status, 'authorised');
    assert.deepEqual(await counters(), [before! + 1], 'the passkey signed the payment');
  });

  test('the same payment with its amount changed after PAR is refused', async () => {
    const { page, context } = alice;
    await context.clearCookies();
    const hits = app.hits.length;
    await startPayment(page);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page
      .getByRole('heading', { name: 'Allow Budget Planner to make this payment?' })
      .waitFor();
    const consent = await consentOf(page);
    const uid = new URL(page.url()).pathname.split('/')[2]!;
    const changed = [{ ...PAYMENT, instructedAmount: { currency: 'EUR', amount: '9250.00' } }];
    const updated = await server.db
      .knex('oidc_artifacts')
      .where({ model: 'Interaction', id: hashId(uid) })
      .update({
        payload: server.db.knex.raw(
          "jsonb_set(payload, '{params,authorization_details}', to_jsonb(?::text))",
          [JSON.stringify(changed)],
        ),
      });
    assert.equal(updated, 1);
    const codes = await server.db.knex('oidc_artifacts').where({ model: 'AuthorizationCode' });

    await page.getByRole('button', { name: 'Confirm with passkey or security key' }).click();
    await page.waitForLoadState('load');
    await page.getByRole('alert').waitFor();
    assert.equal(await page.getByRole('alert').textContent(), CHANGED);
    assert.equal(
      (await server.app.services.consents.find(consent!.id))?.status,
      'awaiting_authorisation',
    );
    assert.equal(app.hits.length, hits, 'the client application got nothing');
    assert.deepEqual(
      await server.db.knex('oidc_artifacts').where({ model: 'AuthorizationCode' }),
      codes,
      'no code issued',
    );
  });

  test('a person with an app code only is told a payment needs a passkey; refusing ends in access_denied', async (t) => {
    const tom = await openContext(browser, t.name);
    const { page } = tom;
    const hits = app.hits.length;
    await startPayment(page);
    await signIn(page, 'tom@example.com');
    clock.advance(30_000);
    await page
      .getByLabel('Code from your authenticator app')
      .fill(generateSync({ secret: tomSecret, epoch: Math.floor(clock.now() / 1000) }));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page
      .getByRole('heading', { name: 'Allow Budget Planner to make this payment?' })
      .waitFor();
    const notice = await page.getByRole('alert').textContent();
    assert.match(
      notice ?? '',
      /^Payments need a passkey or security key: an app code or a recovery code cannot confirm a payment\./,
    );
    assert.equal(
      await page.getByRole('link', { name: 'Add a passkey or security key' }).getAttribute('href'),
      '/account/webauthn',
    );
    assert.equal(
      await page.getByRole('button', { name: 'Confirm with passkey or security key' }).count(),
      0,
    );
    const consent = await consentOf(page);

    await page.getByRole('button', { name: 'Refuse' }).click();
    await page.waitForURL(`${redirectUri}?**`);
    assert.equal(new URL(page.url()).searchParams.get('error'), 'access_denied');
    assert.equal(
      app.hits.slice(hits).filter((h) => h.startsWith('/callback?')).length,
      1,
      'one redirect to the client, with the error',
    );
    assert.equal((await server.app.services.consents.find(consent!.id))?.status, 'rejected');
    await tom.done();
  });
});
