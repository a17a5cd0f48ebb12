// CIBA in ping mode: once the person approves (or denies) on their account page, the client's
// notification endpoint receives the auth_req_id with its client_notification_token as bearer,
// then redeems the request at the token endpoint. The receiver is an https server of the test.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import { CIBA_GRANT_TYPE } from '../../src/oidc/cibaClients.ts';
import { HttpBrowser } from '../support/browserless.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { approvalsPage, BANK, seedCustomer } from './accountPage.ts';
import { type PingReceiver, startPingReceiver } from './pingReceiver.ts';

const API = BANK;
const SECRET = 'KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU';

describe('CIBA, ping mode', () => {
  let receiver: PingReceiver;
  let server: TestServer;
  let rp: oidc.Configuration;

  before(async () => {
    receiver = await startPingReceiver();
    server = await startTestServer({ fetch: receiver.fetch });
    const { clients } = server.app.services;
    await seedCustomer(server, 'bob@example.com', SECRET);
    const created = await clients.create({
      name: 'Shop Terminal',
      grantTypes: [CIBA_GRANT_TYPE],
      authMethod: 'client_secret_basic',
      apiAccess: { [API]: ['accounts:read'] },
      backchannel: { mode: 'ping', notificationEndpoint: receiver.url },
    });
    assert.deepEqual(created.client.backchannel, {
      mode: 'ping',
      notificationEndpoint: receiver.url,
      signingAlg: undefined,
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
    await receiver.close();
  });

  test('a ping client must send a client_notification_token', async () => {
    const err = await oidc
      .initiateBackchannelAuthentication(rp, { scope: 'openid', login_hint: 'bob@example.com' })
      .then(
        () => assert.fail('expected invalid_request'),
        (e: { error?: string }) => e,
      );
    assert.equal(err.error, 'invalid_request');
    const [row] = await server.db.knex('ciba_approvals').count<{ count: string }[]>('* as count');
    assert.equal(Number(row!.count), 0);
  });

  test('approved: the notification endpoint is pinged with the auth_req_id, then tokens', async () => {
    const started = await oidc.initiateBackchannelAuthentication(rp, {
      scope: 'openid accounts:read',
      login_hint: 'bob@example.com',
      binding_message: 'Till 12',
      client_notification_token: 'notify-me-8f2c1d',
    });
    // Pending: no ping yet, and polling is not how a ping client learns (it may still ask).
    assert.equal(receiver.pings.length, 0);

    const browser = new HttpBrowser();
    const page = await approvalsPage(server.issuer, 'bob@example.com', browser);
    assert.match(page.html, /Shop Terminal/);
    assert.match(page.html, /Till 12/);
    const arrived = receiver.next();
    const code = generateSync({ secret: SECRET, epoch: Math.floor(Date.now() / 1000) });
    const done = await browser.submit(page, /\/totp$/, { code });
    assert.match(done.html, /Approved/);
    await arrived;

    assert.equal(receiver.pings.length, 1);
    const ping = receiver.pings[0]!;
    assert.equal(ping.authorization, 'Bearer notify-me-8f2c1d');
    assert.match(ping.contentType ?? '', /^application\/json/);
    assert.deepEqual(ping.body, { auth_req_id: started.auth_req_id });

    const tokens = await oidc.genericGrantRequest(rp, CIBA_GRANT_TYPE, {
      auth_req_id: started.auth_req_id,
      resource: API,
    });
    assert.equal(tokens.scope, 'accounts:read');
    assert.equal(tokens.token_type, 'bearer');
  });
});
