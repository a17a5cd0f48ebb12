// A CIBA approval in Chromium: a call centre starts a backchannel authentication for a payment
// scope that needs level 3; the person opens their account page on their "phone" (a browser
// with a virtual passkey), sees the client and the binding message, and approves with the passkey.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { CIBA_GRANT_TYPE } from '../../src/oidc/cibaClients.ts';
import { BANK_API, PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { launchBrowser, openContext } from './support/browser.ts';

describe('CIBA approval on the account page with a passkey', () => {
  let server: TestServer;
  let browser: Browser;
  let rp: oidc.Configuration;
  let session: Awaited<ReturnType<typeof openContext>>;

  before(async () => {
    browser = await launchBrowser();
    // WebAuthn refuses IP addresses as relying party: the issuer is http://localhost:<port>.
    server = await startTestServer({ hostname: 'localhost' });
    const { catalogue, clients, accounts, roles } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      scopes: [
        { name: 'accounts:read', description: 'See your accounts and balances' },
        { name: 'payments:write', description: 'Make payments', requiredLevel: 3 },
      ],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read', 'payments:write'] });
    await accounts.create({
      email: 'alice@example.com',
      name: 'Alice',
      password: PASSWORD,
      roles: ['customer'],
    });
    const { client, secret } = await clients.create({
      name: 'Branch Counter',
      grantTypes: [CIBA_GRANT_TYPE],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read', 'payments:write'] },
      backchannel: { mode: 'poll' },
    });
    rp = await oidc.discovery(
      new URL(server.issuer),
      client.clientId,
      {},
      oidc.ClientSecretBasic(secret!),
      { execute: [oidc.allowInsecureRequests] },
    );
    session = await openContext(browser, 'ciba');
    const cdp = await session.context.newCDPSession(session.page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
  });
  after(async () => {
    await session?.done();
    await browser?.close();
    await server?.close();
  });

  test('the person approves a level-3 request with their passkey; the client gets its tokens', async () => {
    const { page } = session;
    // The phone: signed in to the account page, with a passkey added.
    await page.goto(server.url('/account'));
    await page.getByLabel('Email').fill('alice@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForLoadState('load');
    await page.getByRole('link', { name: 'Add a security key or passkey' }).click();
    await page.getByLabel('Name for this key').fill('Phone passkey');
    await page.getByRole('button', { name: 'Add a security key or passkey' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();

    // The counter starts the request.
    const started = await oidc.initiateBackchannelAuthentication(rp, {
      scope: 'openid payments:write',
      login_hint: 'alice@example.com',
      binding_message: 'Branch 9 / 250 EUR',
      resource: BANK_API,
    });
    const poll = () =>
      oidc.genericGrantRequest(rp, CIBA_GRANT_TYPE, {
        auth_req_id: started.auth_req_id,
        resource: BANK_API,
      });
    await assert.rejects(poll(), { error: 'authorization_pending' });

    await page.goto(server.url('/account'));
    await page.getByRole('link', { name: 'Requests waiting for your approval' }).click();
    await page.getByRole('heading', { name: 'Branch Counter' }).waitFor();
    assert.equal(await page.locator('.binding-message').textContent(), 'Branch 9 / 250 EUR');
    await page.getByText('needs a security key or passkey', { exact: false }).first().waitFor();
    // No app-code form for a level-3 request.
    assert.equal(await page.getByLabel('Code from your authenticator app').count(), 0);
    await page.getByRole('button', { name: 'Approve with security key or passkey' }).click();
    await page.getByText('Approved. The application can continue.').waitFor();
    await page.getByText('Nothing is waiting for you.').waitFor();

    const tokens = await poll();
    assert.equal(tokens.scope, 'payments:write');
    const claims = decodeJwt(tokens.access_token);
    assert.equal(claims.acr, 'urn:portcullis:ac:phishing-resistant');
    assert.ok((claims.amr as string[]).includes('mfa'));
    const approved = await server.app.services.audit.query({ action: 'ciba.approved' });
    assert.equal(approved.events[0]!.details.method, 'webauthn');
    assert.equal(approved.events[0]!.details.level, 3);
  });
});
