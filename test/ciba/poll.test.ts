// CIBA in poll mode with openid-client as the client: the person approves on their account page
// (an app code for level 2; level 3 refuses it), denies, or lets it expire; unknown people and bad
// binding messages are refused with nothing written; the notification mail says who asks and what.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import { CIBA_GRANT_TYPE } from '../../src/oidc/cibaClients.ts';
import { HttpBrowser } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtpServer.ts';
import { approvalsPage as approvalsPageOf } from './accountPage.ts';

const API = 'https://bank.api.example';
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

describe('CIBA, poll mode', () => {
  let server: TestServer;
  let smtp: TestSmtpServer;
  let rp: oidc.Configuration;
  let aliceId: string;

  const initiate = (params: Record<string, string>) =>
    oidc.initiateBackchannelAuthentication(rp, {
      scope: 'openid accounts:read',
      login_hint: 'alice@example.com',
      resource: API,
      ...params,
    });
  // As with a code, the token is for the API when the token request names it (RFC 8707).
  const poll = (authReqId: string) =>
    oidc.genericGrantRequest(rp, CIBA_GRANT_TYPE, { auth_req_id: authReqId, resource: API });
  const oauthError = async (promise: Promise<unknown>) => {
    const err = await promise.then(
      () => assert.fail('expected an OAuth error'),
      (e: unknown) => e as { error?: string; error_description?: string },
    );
    return err.error;
  };
  const approvalRows = async () =>
    (await server.db.knex('ciba_approvals').count<{ count: string }[]>('* as count'))[0]!.count;

  const approvalsPage = (browser: HttpBrowser) =>
    approvalsPageOf(server.issuer, 'alice@example.com', browser);

  before(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({
      env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_FROM: 'bank@example.com' },
    });
    const { catalogue, clients, accounts, roles, totp } = server.app.services;
    await catalogue.create({
      identifier: API,
      name: 'Bank API',
      tokenFormat: 'jwt',
      accessTokenTtl: 300,
      scopes: [
        { name: 'accounts:read', description: 'See your accounts' },
        { name: 'payments:write', description: 'Make payments', requiredLevel: 3 },
      ],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read', 'payments:write'] });
    const alice = await accounts.create({
      email: 'alice@example.com',
      password: PASSWORD,
      roles: ['customer'],
    });
    aliceId = alice.id;
    await totp.importConfirmed([{ userId: alice.id, secret: SECRET }]);
    const created = await clients.create({
      name: 'Call Centre',
      grantTypes: [CIBA_GRANT_TYPE],
      authMethod: 'client_secret_basic',
      apiAccess: { [API]: ['accounts:read', 'payments:write'] },
      backchannel: { mode: 'poll' },
    });
    rp = await oidc.discovery(
      new URL(server.issuer),
      created.client.clientId,
      {},
      oidc.ClientSecretBasic(created.secret!),
      { execute: [oidc.allowInsecureRequests] },
    );
  });
  after(async () => {
    await server.close();
    await smtp.close();
  });

  test('discovery advertises CIBA with poll and ping, and no user codes', () => {
    const meta = rp.serverMetadata();
    assert.equal(meta.backchannel_authentication_endpoint, server.url('/backchannel'));
    assert.deepEqual(meta.backchannel_token_delivery_modes_supported, ['poll', 'ping']);
    assert.equal(meta.backchannel_user_code_parameter_supported, false);
    assert.ok(meta.grant_types_supported?.includes(CIBA_GRANT_TYPE));
  });

  test('approved with an app code on the account page: tokens at level 2; the mail says who asks', async () => {
    const started = await initiate({ binding_message: 'Counter 4 A7' });
    assert.ok(started.auth_req_id && started.expires_in > 0 && started.expires_in <= 300);
    assert.equal(await oauthError(poll(started.auth_req_id)), 'authorization_pending');

    // The notification mail: the client and the binding message, no code or token.
    assert.equal(await server.app.services.ciba.mail.deliverDue(), 1);
    const mail = smtp.received.at(-1)!;
    assert.deepEqual(mail.to, ['alice@example.com']);
    assert.equal(mail.from, 'bank@example.com');
    assert.match(smtp.subjectOf(mail), /Call Centre asks you to approve/);
    const body = smtp.bodyOf(mail);
    assert.match(body, /Call Centre asks you to approve: Counter 4 A7\./);
    assert.match(body, /account page/);
    assert.ok(!mail.data.includes(started.auth_req_id) && !body.includes(started.auth_req_id));

    const browser = new HttpBrowser();
    const page = await approvalsPage(browser);
    assert.match(page.html, /Call Centre/);
    assert.match(page.html, /<strong class="binding-message">Counter 4 A7<\/strong>/);
    const code = generateSync({ secret: SECRET, epoch: Math.floor(Date.now() / 1000) });
    const done = await browser.submit(page, /\/totp$/, { code });
    assert.match(done.html, /Approved\. The application can continue\./);
    assert.match(done.html, /Nothing is waiting for you/);

    const tokens = await poll(started.auth_req_id);
    assert.equal(tokens.scope, 'accounts:read');
    const claims = decodeJwt(tokens.access_token);
    assert.equal(claims.sub, aliceId);
    assert.equal(claims.aud, API);
    assert.equal(claims.acr, 'urn:portcullis:ac:mfa');
    assert.deepEqual(tokens.claims()?.sub, aliceId);
    // The request is redeemed once.
    assert.equal(await oauthError(poll(started.auth_req_id)), 'invalid_grant');

    const events = await server.app.services.audit.query({ action: 'ciba.approved' });
    assert.equal(events.events.length, 1);
    assert.equal(events.events[0]!.details.method, 'totp');
    assert.equal(events.events[0]!.details.level, 2);
  });

  test('denied on the account page: access_denied at the token endpoint', async () => {
    const started = await initiate({ binding_message: 'Deny me' });
    const browser = new HttpBrowser();
    const page = await approvalsPage(browser);
    const done = await browser.submit(page, /\/deny$/, {});
    assert.match(done.html, /Denied\./);
    assert.equal(await oauthError(poll(started.auth_req_id)), 'access_denied');
    const events = await server.app.services.audit.query({ action: 'ciba.denied' });
    assert.equal(events.events.length, 1);
    assert.equal(events.events[0]!.details.reason, 'denied');
  });

  test('a request needing level 3 refuses an app code; it stays pending', async () => {
    const started = await initiate({
      scope: 'openid payments:write',
      binding_message: 'Pay 10 EUR',
    });
    const browser = new HttpBrowser();
    const page = await approvalsPage(browser);
    assert.match(page.html, /needs a security key or passkey/);
    // No app-code form is offered; a forged post is refused without checking any code.
    assert.doesNotMatch(page.html, /\/totp"/);
    const id = /data-approval="([^"]+)"/.exec(page.html)![1]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.html)![1]!;
    const forged = await browser.request(server.url(`/account/approvals/${id}/totp`), {
      form: { _csrf: csrf, code: '123456' },
    });
    const after = await browser.follow(forged, server.issuer);
    assert.match(after.html, /needs a security key or passkey: an app code is not enough/);
    assert.match(after.html, /Pay 10 EUR/);
    assert.equal(await oauthError(poll(started.auth_req_id)), 'authorization_pending');
    const approved = await server.app.services.audit.query({ action: 'ciba.approved' });
    assert.equal(approved.events.length, 1); // only the earlier level-2 approval
    // Tidy: deny it.
    await browser.submit(after, new RegExp(`/account/approvals/${id}/deny$`), {});
  });

  test('five wrong app codes deny the request: access_denied, audited as too many failures', async () => {
    const started = await initiate({ binding_message: 'Guess me' });
    const browser = new HttpBrowser();
    let page = await approvalsPage(browser);
    for (let i = 0; i < 4; i++) {
      page = await browser.submit(page, /\/totp$/, { code: '000000' });
      assert.match(page.html, /That code did not work/);
    }
    page = await browser.submit(page, /\/totp$/, { code: '000000' });
    assert.match(page.html, /Too many failed attempts: the request was denied\./);
    assert.equal(await oauthError(poll(started.auth_req_id)), 'access_denied');
    const denied = await server.app.services.audit.query({ action: 'ciba.denied' });
    assert.equal(denied.events.at(-1)!.details.reason, 'too_many_failures');
    const failures = await server.app.services.audit.query({ action: 'mfa.failure' });
    assert.equal(failures.events.length, 5);
  });

  test('an expired request: expired_token, and it no longer waits on the account page', async () => {
    const started = await initiate({ requested_expiry: '1', binding_message: 'Too late' });
    assert.equal(started.expires_in, 1);
    await new Promise((r) => setTimeout(r, 1600));
    assert.equal(await oauthError(poll(started.auth_req_id)), 'expired_token');
    const page = await approvalsPage(new HttpBrowser());
    assert.doesNotMatch(page.html, /Too late/);
  });

  test('an unknown person: unknown_user_id, nothing recorded', async () => {
    const before = await approvalRows();
    assert.equal(
      await oauthError(initiate({ login_hint: 'nobody@example.com' })),
      'unknown_user_id',
    );
    assert.equal(await approvalRows(), before);
  });

  test('a bad binding message or a login_hint_token: refused, nothing recorded', async () => {
    const before = await approvalRows();
    assert.equal(
      await oauthError(initiate({ binding_message: 'x'.repeat(65) })),
      'invalid_binding_message',
    );
    assert.equal(
      await oauthError(initiate({ binding_message: 'line\nbreak' })),
      'invalid_binding_message',
    );
    assert.equal(
      await oauthError(
        oidc.initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint_token: 'x.y.z' }),
      ),
      'invalid_request',
    );
    assert.equal(await approvalRows(), before);
  });
  test('at most three requests of one client wait for one person: a fourth is refused, nothing recorded', async () => {
    for (const n of [1, 2, 3]) await initiate({ binding_message: `Wait ${n}` });
    const before = await approvalRows();
    const err = await initiate({ binding_message: 'Wait 4' }).then(
      () => assert.fail('expected invalid_request'),
      (e: { error?: string; error_description?: string }) => e,
    );
    assert.equal(err.error, 'invalid_request');
    assert.equal(
      err.error_description,
      'this person already has 3 requests of this client waiting: wait for a decision or for one to expire',
    );
    assert.equal(await approvalRows(), before);
  });
});
