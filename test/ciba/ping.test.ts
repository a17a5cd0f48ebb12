// CIBA in ping mode: once the person approves (or denies) on their account page, the client's
// notification endpoint receives the auth_req_id with its client_notification_token as bearer,
// then redeems the request at the token endpoint. The receiver is an https server of the test.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import { CIBA_GRANT_TYPE } from '../../src/oidc/cibaClients.ts';
import { HttpBrowser } from '../support/browserless.ts';
import { createTestPki, type TestPki } from '../support/certificates.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tlsFetch } from '../support/tlsFetch.ts';

const API = 'https://bank.api.example';
const SECRET = 'KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU';

interface Ping {
  authorization: string | undefined;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

describe('CIBA, ping mode', () => {
  let pki: TestPki;
  let receiver: Server;
  let server: TestServer;
  let rp: oidc.Configuration;
  const pings: Ping[] = [];
  let pinged: (() => void) | undefined;

  before(async () => {
    pki = createTestPki();
    receiver = createServer({ cert: pki.server.cert, key: pki.server.key }, (req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        pings.push({
          authorization: req.headers.authorization,
          contentType: req.headers['content-type'],
          body: JSON.parse(body || '{}'),
        });
        res.statusCode = 204;
        res.end();
        pinged?.();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as { port: number }).port;
    server = await startTestServer({ fetch: tlsFetch({ ca: pki.serverCa.cert }) });
    const { catalogue, clients, accounts, roles, totp } = server.app.services;
    await catalogue.create({
      identifier: API,
      name: 'Bank API',
      tokenFormat: 'jwt',
      accessTokenTtl: 300,
      scopes: [{ name: 'accounts:read', description: 'See your accounts' }],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read'] });
    const bob = await accounts.create({
      email: 'bob@example.com',
      password: PASSWORD,
      roles: ['customer'],
    });
    await totp.importConfirmed([{ userId: bob.id, secret: SECRET }]);
    const created = await clients.create({
      name: 'Shop Terminal',
      grantTypes: [CIBA_GRANT_TYPE],
      authMethod: 'client_secret_basic',
      apiAccess: { [API]: ['accounts:read'] },
      backchannel: { mode: 'ping', notificationEndpoint: `https://localhost:${port}/ciba/notify` },
    });
    assert.deepEqual(created.client.backchannel, {
      mode: 'ping',
      notificationEndpoint: `https://localhost:${port}/ciba/notify`,
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
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    pki.remove();
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
    assert.equal(pings.length, 0);

    const browser = new HttpBrowser();
    const login = await browser.open(server.url('/account'));
    await browser.submit(login, /\/login$/, { email: 'bob@example.com', password: PASSWORD });
    const page = await browser.open(server.url('/account/approvals'));
    assert.match(page.html, /Shop Terminal/);
    assert.match(page.html, /Till 12/);
    const arrived = new Promise<void>((resolve) => {
      pinged = resolve;
    });
    const code = generateSync({ secret: SECRET, epoch: Math.floor(Date.now() / 1000) });
    const done = await browser.submit(page, /\/totp$/, { code });
    assert.match(done.html, /Approved/);
    await arrived;

    assert.equal(pings.length, 1);
    assert.equal(pings[0]!.authorization, 'Bearer notify-me-8f2c1d');
    assert.match(pings[0]!.contentType ?? '', /^application\/json/);
    assert.deepEqual(pings[0]!.body, { auth_req_id: started.auth_req_id });

    const tokens = await oidc.genericGrantRequest(rp, CIBA_GRANT_TYPE, {
      auth_req_id: started.auth_req_id,
      resource: API,
    });
    assert.equal(tokens.scope, 'accounts:read');
    assert.equal(tokens.token_type, 'bearer');
  });
});
