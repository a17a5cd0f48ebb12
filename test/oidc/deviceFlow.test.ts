// The device authorization grant (RFC 8628) with openid-client as the device and the device page
// driven over HTTP: approval, cancellation, a consent denied, an expired code, wrong codes and
// their limit per address, a code used twice, polling too fast, and who may use the grant.
import assert from 'node:assert/strict';
import { after, before, describe, mock, test } from 'node:test';
import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import { manualClock } from '../../src/clock.ts';
import { HttpBrowser } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { approveUserCode, enterUserCode } from './devicePage.ts';

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

  const enterCode = (userCode: string, browser?: HttpBrowser) =>
    enterUserCode(server.issuer, userCode, browser);
  const approve = (userCode: string, browser?: HttpBrowser) =>
    approveUserCode(server.issuer, userCode, person.email, browser);

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
    const metadata = config.serverMetadata();
    assert.equal(metadata.device_authorization_endpoint, server.url('/device/auth'));
    assert.ok(
      metadata.grant_types_supported?.includes('urn:ietf:params:oauth:grant-type:device_code'),
    );

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

  test('a client that needs level 2: the same second factor as any sign-in, acr in the ID token', async () => {
    const { clients, accounts, totp } = server.app.services;
    const secure = await clients.create({
      name: 'Ledger terminal',
      grantTypes: ['device_code'],
      authMethod: 'none',
      apiAccess: { [LEDGER]: ['ledger:read'] },
      minAssuranceLevel: 2,
    });
    const owner = await accounts.create({
      email: 'otto@example.com',
      password: PASSWORD,
      roles: ['ledger-reader'],
    });
    const totpAt = (secret: string) =>
      generateSync({ secret, epoch: Math.floor(clock.now() / 1000) });
    const { enrolmentId, secret } = await totp.startEnrolment(owner);
    assert.ok(await totp.confirmEnrolment(owner.id, enrolmentId, totpAt(secret)));
    clock.advance(30_000); // the next code: the enrolment's is spent

    const config = await device(secure.client.clientId);
    const started = await start(config);
    const browser = new HttpBrowser();
    const confirm = await enterCode(started.user_code, browser);
    let page = await browser.submit(confirm, /\/device$/, {}, server.issuer);
    page = await browser.submit(
      page,
      /\/login$/,
      { email: owner.email, password: PASSWORD },
      server.issuer,
    );
    assert.match(page.html, /action="\/interaction\/[^"]+\/totp"/, page.html.slice(0, 500));
    page = await browser.submit(page, /\/totp$/, { code: totpAt(secret) }, server.issuer);
    if (page.html.includes('/consent"'))
      page = await browser.submit(page, /\/consent$/, { decision: 'approve' }, server.issuer);
    assert.match(page.html, /Your device is connected/);
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, started, { resource: LEDGER });
    assert.equal(tokens.claims()?.sub, owner.id);
    assert.equal(tokens.claims()?.acr, 'urn:portcullis:ac:mfa');
  });

  /** A poll of the token endpoint by hand (exact bodies; openid-client keeps polling). */
  const poll = async (deviceCode: string, clientId = tv) => {
    const res = await fetch(server.url('/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: deviceCode,
        client_id: clientId,
        resource: LEDGER,
      }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const oauthError = (err: unknown) => (err as { error?: string }).error;
  const active = async (token: string) => {
    const res = await fetch(server.url('/token/introspection'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, client_id: tv }),
    });
    return ((await res.json()) as { active: boolean }).active;
  };
  const accessTokens = async () =>
    Number(
      (
        await server.db
          .knex('oidc_artifacts')
          .where({ model: 'AccessToken', client_id: tv })
          .count<{ n: string }[]>('* as n')
      )[0]!.n,
    );

  test('the person cancels on the confirmation page: access_denied, audited', async () => {
    const started = await start();
    const browser = new HttpBrowser();
    const confirm = await enterCode(started.user_code, browser);
    assert.match(confirm.html, new RegExp(started.user_code));
    const page = await browser.submit(confirm, /\/device$/, { abort: 'yes' }, server.issuer);
    assert.equal(page.status, 200);
    assert.match(page.html, /You cancelled: the device was not connected/);

    const tokensBefore = await accessTokens();
    const denied = await poll(started.device_code);
    assert.equal(denied.status, 400);
    assert.equal(denied.body.error, 'access_denied');
    assert.equal(await accessTokens(), tokensBefore, 'nothing was issued');
    const refused = await audit('device.code_refused');
    assert.deepEqual(refused.at(-1), { actor_id: null, target_id: tv, details: { client: tv } });
  });

  test('the person refuses consent: the device gets access_denied', async () => {
    // The person allowed the TV in an earlier test, and a consent once given is remembered:
    // take it back first, so this sign-in asks.
    await server.app.services.grants.revokeClient(person.id, tv);
    const config = await device();
    const started = await start(config);
    const browser = new HttpBrowser();
    const confirm = await enterCode(started.user_code, browser);
    let page = await browser.submit(confirm, /\/device$/, {}, server.issuer);
    page = await browser.submit(
      page,
      /\/login$/,
      { email: person.email, password: PASSWORD },
      server.issuer,
    );
    // The TV is not first-party: the person is asked, and refuses.
    assert.match(page.html, /\/consent"/, page.html.slice(0, 500));
    page = await browser.submit(page, /\/consent$/, { decision: 'deny' }, server.issuer);
    assert.match(page.html, /You cancelled/);
    const tokensBefore = await accessTokens();
    await assert.rejects(
      oidc.pollDeviceAuthorizationGrant(config, started, { resource: LEDGER }),
      (err) => oauthError(err) === 'access_denied',
    );
    assert.equal(await accessTokens(), tokensBefore, 'nothing was issued');
    const refused = await audit('device.code_refused');
    assert.deepEqual(refused.at(-1), {
      actor_id: person.id,
      target_id: tv,
      details: { client: tv },
    });
  });

  test('a code used twice: the page refuses it and the device code redeems once', async () => {
    const started = await start();
    assert.match((await approve(started.user_code)).html, /Your device is connected/);
    const first = await poll(started.device_code);
    assert.equal(first.status, 200);
    assert.ok(first.body.access_token);

    const again = await enterCode(started.user_code);
    assert.equal(again.status, 200);
    assert.match(again.html, /That code has already been used/);
    assert.equal(await active(String(first.body.access_token)), true);
    const second = await poll(started.device_code);
    assert.equal(second.status, 400);
    assert.equal(second.body.error, 'invalid_grant');
    assert.equal(second.body.access_token, undefined);
    // A device code presented again is treated as stolen: its grant's tokens are revoked.
    assert.equal(await active(String(first.body.access_token)), false);
  });

  test('a device polling faster than the interval gets slow_down', async () => {
    const started = await start();
    assert.equal((await poll(started.device_code)).body.error, 'authorization_pending');
    const fast = await poll(started.device_code);
    assert.equal(fast.status, 400);
    assert.equal(fast.body.error, 'slow_down');
    // Once the interval has passed (injected clock), the device is answered again.
    clock.advance(1000);
    assert.equal((await poll(started.device_code)).body.error, 'authorization_pending');
  });

  test('an expired code: the page says so and the device gets expired_token', async () => {
    const started = await start();
    // oidc-provider reads expiry from Date; Portcullis from the injected clock: both move on.
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      mock.timers.tick(601_000);
      clock.advance(601_000);
      const page = await enterCode(started.user_code);
      assert.equal(page.status, 200);
      assert.match(page.html, /That code has expired/);
      assert.doesNotMatch(page.html, /Check that your device shows/);
      const expired = await poll(started.device_code);
      assert.equal(expired.status, 400);
      assert.equal(expired.body.error, 'expired_token');
    } finally {
      mock.timers.reset();
    }
  });

  test('a link with the code fills the form in; the person still confirms', async () => {
    const started = await start();
    const browser = new HttpBrowser();
    const page = await browser.open(started.verification_uri_complete!);
    assert.equal(page.status, 200);
    assert.match(page.html, new RegExp(`value="${started.user_code}"`));
    assert.doesNotMatch(page.html, /<script>/, 'no inline script (CSP)');
    const confirm = await browser.submit(
      page,
      /\/device$/,
      { user_code: started.user_code },
      server.issuer,
    );
    assert.match(confirm.html, /Check that your device shows this code/);
  });

  test('only clients allowed the grant start it; fapi2 clients cannot have it', async () => {
    const { clients } = server.app.services;
    const web = await clients.create({
      name: 'Ledger web',
      grantTypes: ['authorization_code'],
      redirectUris: ['https://ledger.example/cb'],
      authMethod: 'none',
      apiAccess: { [LEDGER]: ['ledger:read'] },
    });
    // oidc-provider's answer for a grant the client was not registered with.
    await assert.rejects(
      start(await device(web.client.clientId)),
      (err: Error & { error?: string; error_description?: string }) =>
        err.error === 'invalid_request' &&
        err.error_description ===
          'urn:ietf:params:oauth:grant-type:device_code is not allowed for this client',
    );
    const before = (await clients.list()).length;
    await assert.rejects(
      clients.create({
        name: 'FAPI TV',
        grantTypes: ['device_code'],
        authMethod: 'private_key_jwt',
        jwksUri: 'https://fapi-tv.example/jwks',
        apiAccess: { [LEDGER]: ['ledger:read'] },
        profile: 'fapi2',
      }),
      (err: Error & { field?: string }) =>
        /a fapi2 client cannot use device_code/.test(err.message) && err.field === 'grantTypes',
    );
    assert.equal((await clients.list()).length, before, 'nothing was registered');
  });

  test('a form posted without the page (no anti-forgery value): 400 on the page, nothing done', async () => {
    const started = await start();
    const res = await fetch(server.url('/device'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ user_code: started.user_code, confirm: 'yes' }),
    });
    const html = await res.text();
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(html, /This form has expired\. Enter the code again\./);
    assert.doesNotMatch(html, /\n\s+at /, 'no stack trace');
    assert.match(html, /<a href="\/device">Enter a code again<\/a>/);
    assert.equal((await poll(started.device_code)).body.error, 'authorization_pending');
  });

  // Last: it spends the address' allowance of wrong codes for the rest of the window.
  test('wrong codes: told on the page, then refused per address until the window ends', async () => {
    const started = await start();
    for (let i = 0; i < FAILURE_LIMIT; i++) {
      const page = await enterCode(i % 2 ? 'bbbb-bbbb' : 'XXXX-XXXX');
      assert.equal(page.status, 200);
      assert.match(page.html, /That code is not right/);
    }
    // Over the limit even the right code is refused, and never looked up: the code stays pending.
    const limited = await enterCode(started.user_code);
    assert.equal(limited.status, 429);
    assert.match(
      limited.html,
      /Too many wrong codes were entered from your network\. Try again in 15 minutes\./,
    );
    assert.doesNotMatch(limited.html, /Check that your device shows/);
    assert.equal((await poll(started.device_code)).body.error, 'authorization_pending');

    // The window ends (injected clock): the right code is accepted again.
    clock.advance(901_000);
    const confirm = await enterCode(started.user_code);
    assert.match(confirm.html, /Check that your device shows this code/);
  });
});

describe('device flow under FAPI_PROFILE=2.0', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { FAPI_PROFILE: '2.0' } });
  });
  after(() => server.close());

  test('every client is fapi2: no device endpoint, in discovery or at all', async () => {
    const discovery = (await (
      await fetch(server.url('/.well-known/openid-configuration'))
    ).json()) as Record<string, unknown>;
    assert.equal(discovery.device_authorization_endpoint, undefined);
    assert.ok(
      !(discovery.grant_types_supported as string[]).includes(
        'urn:ietf:params:oauth:grant-type:device_code',
      ),
    );
    const res = await fetch(server.url('/device/auth'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'anyone' }),
    });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: string }).error, 'not_found');
  });
});
