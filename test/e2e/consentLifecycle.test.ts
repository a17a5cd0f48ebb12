// Consents in Chromium after they were given: a payment confirmed with a passkey is consumed by
// the API that executes it and cannot be consumed again by another caller; account access
// allowed on the consent page and revoked by the person on the account page ends the client's
// tokens (introspection inactive, the refresh token refused).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import {
  ACCOUNTS,
  accountAccess,
  PAYMENT,
  PAYMENTS,
  postAs,
  type RarWorld,
  type Secretive,
  seedRar,
} from '../oidc/richAuthorizationWorld.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  addVirtualAuthenticator,
  launchBrowser,
  openContext,
  startCallbackServer,
} from './support/browser.ts';

describe('consents after they were given, in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let w: RarWorld;
  let pat: Awaited<ReturnType<typeof openContext>>;
  let app: Awaited<ReturnType<typeof startCallbackServer>>;
  let redirectUri: string;

  before(async () => {
    browser = await launchBrowser();
    // WebAuthn refuses IP addresses as relying party: the issuer is http://localhost:<port>.
    server = await startTestServer({ hostname: 'localhost' });
    // A real callback server: a redirect to a made-up host, answered by a browser route, raced
    // Chromium's name lookup (net::ERR_NAME_NOT_RESOLVED) on a quiet machine.
    app = await startCallbackServer();
    redirectUri = `${app.url}/callback`;
    w = await seedRar(server, redirectUri);
    pat = await openContext(browser, 'consent lifecycle pat');
    await addVirtualAuthenticator(pat.context, pat.page);
    const { page } = pat;
    await page.goto(server.url('/account'));
    await signIn(page);
    await page.getByRole('link', { name: 'Add a security key or passkey' }).click();
    await page.getByLabel('Name for this key').fill('Phone passkey');
    await page.getByRole('button', { name: 'Add a security key or passkey' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
  });
  after(async () => {
    await pat?.done();
    await browser?.close();
    await server?.close();
    await app?.close();
  });

  async function signIn(page: Page) {
    await page.getByLabel('Email').fill(w.person.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForLoadState('load');
  }

  /** Sends pat's browser through an authorization with details; returns the code's tokens. */
  async function authorize(
    details: unknown[],
    resource: string,
    scope: string,
    approve: (page: Page) => Promise<void>,
  ) {
    const { page, context } = pat;
    await context.clearCookies();
    const rp = await w.rp(w.tpp);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(rp, {
      redirect_uri: redirectUri,
      scope,
      resource,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      prompt: 'consent',
      authorization_details: JSON.stringify(details),
    });
    await page.goto(url.href);
    await signIn(page);
    const consentId = await page.locator('input[name="consent"]').first().getAttribute('value');
    await approve(page);
    await page.waitForURL(`${redirectUri}?**`);
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      new URL(page.url()),
      { pkceCodeVerifier: verifier, expectedState: state },
      { resource },
    );
    return { rp, tokens, consentId: consentId! };
  }

  const consume = async (consentId: string, executor: Secretive) => {
    const { access_token } = await oidc.clientCredentialsGrant(await w.rp(executor), {
      resource: PAYMENTS,
    });
    const res = await fetch(server.url(`/consents/${consentId}/consume`), {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}` },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  test('a payment consumed by its API is refused to another caller', async () => {
    const { consentId, tokens } = await authorize(
      [PAYMENT],
      PAYMENTS,
      'openid payments:write',
      (page) => page.getByRole('button', { name: 'Confirm with passkey or security key' }).click(),
    );
    assert.equal(
      JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString('utf8'))
        .consent_id,
      consentId,
    );
    const { client, secret } = await server.app.services.clients.create({
      name: 'Another payments engine',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [PAYMENTS]: ['payments:execute'] },
    });
    const other = { id: client.clientId, secret: secret! };

    const first = await consume(consentId, w.paymentsRs);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.status, 'consumed');
    // The same caller again: the same answer (a retried request is not a second payment).
    assert.deepEqual(await consume(consentId, w.paymentsRs), first);
    const second = await consume(consentId, other);
    assert.equal(second.status, 409);
    assert.equal(second.body.title, 'Consent already consumed');
    const stored = await server.app.services.consents.find(consentId);
    assert.equal(stored?.status, 'consumed');
    assert.equal(stored?.consumedBy, w.paymentsRs.id, 'still consumed by the first caller');
  });

  test('account access revoked on the account page ends introspection and the refresh token', async () => {
    const { page } = pat;
    const { rp, tokens, consentId } = await authorize(
      [accountAccess()],
      ACCOUNTS,
      'openid offline_access accounts:read',
      (p) => p.getByRole('button', { name: 'Allow' }).click(),
    );
    assert.ok(tokens.refresh_token, 'a refresh token was issued');
    const introspect = () =>
      postAs(server.url('/token/introspection'), w.accountsRs, { token: tokens.access_token });
    assert.equal((await introspect()).body.active, true);

    await page.goto(server.url('/account'));
    const row = page.locator(`tr[data-consent="${consentId}"]`);
    await row.getByRole('button', { name: 'Revoke this consent of Third-party provider' }).click();
    await page.waitForLoadState('load');
    assert.equal((await server.app.services.consents.find(consentId))?.status, 'revoked');
    assert.equal(
      await page
        .locator(`tr[data-consent="${consentId}"]`)
        .getByRole('button', { name: /^Revoke/ })
        .count(),
      0,
      'a revoked consent has no revoke button',
    );

    assert.deepEqual((await introspect()).body, { active: false });
    await assert.rejects(oidc.refreshTokenGrant(rp, tokens.refresh_token!), {
      error: 'invalid_grant',
    });
  });
});
