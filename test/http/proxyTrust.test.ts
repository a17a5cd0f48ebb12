// Who the client is behind a proxy: X-Forwarded-For is read from the right, only as far as the
// configured proxies go, so invented addresses neither escape the per-address sign-in limit nor
// reach the audit log; forwarded headers from a peer that is not a trusted proxy are ignored.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { HttpBrowser, type Page } from '../support/browserless.ts';
import { type Bank, PASSWORD, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const LIMIT = 5;
const BLOCKED = 'Too many failed sign-ins from your network. Try again in 15 minutes.';

/** An address an attacker makes up: different at every attempt. */
const invented = () =>
  `${randomInt(1, 224)}.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

const shown = (page: Page) =>
  /<p class="notice error" role="alert" id="error">([^<]*)<\/p>/.exec(page.html)?.[1];

/** Past the password step: the consent page (or the client) comes next, not the login form again. */
const signedIn = (page: Page) =>
  page.status < 400 && !/autocomplete="current-password"/.test(page.html);

/** One sign-in attempt, every request carrying the given forwarded headers. */
async function attempt(
  server: TestServer,
  bank: Bank,
  headers: Record<string, string>,
  email: string,
  password: string,
): Promise<Page> {
  const browser = new HttpBrowser(headers);
  const page = await browser.open(bank.authorizationUrl({ state: 's' }), server.issuer);
  assert.match(page.html, /autocomplete="current-password"/);
  return browser.submit(page, /\/login$/, { email, password }, server.issuer);
}

async function auditedAddresses(server: TestServer, action: string): Promise<string[]> {
  const { events } = await server.app.services.audit.query({ action, limit: 500 });
  return events.map((e) => e.sourceIp ?? 'none');
}

async function discovery(server: TestServer, headers: Record<string, string>) {
  const res = await fetch(server.url('/.well-known/openid-configuration'), { headers });
  return ((await res.json()) as { token_endpoint: string }).token_endpoint;
}

/**
 * The attack: failed sign-ins (to accounts that do not exist, so no account lockout interferes), each with a new invented address in X-Forwarded-For, from one
 * client (`forwarded(invented)` builds the header a proxy would pass on). The limit must hold
 * for the real address, which is also what the audit log records; another address still works.
 */
async function attack(
  server: TestServer,
  bank: Bank,
  forwarded: (fake: string) => string,
  realAddress: string,
  otherForwarded: string,
): Promise<void> {
  for (let i = 0; i < LIMIT; i++) {
    const page = await attempt(
      server,
      bank,
      { 'x-forwarded-for': forwarded(invented()) },
      `nobody-${i}@example.com`,
      `wrong guess ${i}`,
    );
    assert.equal(page.status, 401, `attempt ${i + 1} is an ordinary failure`);
  }
  const blocked = await attempt(
    server,
    bank,
    { 'x-forwarded-for': forwarded(invented()) },
    'alice@example.com',
    PASSWORD,
  );
  assert.equal(blocked.status, 429, 'the limit holds whatever X-Forwarded-For claims');
  assert.equal(shown(blocked), BLOCKED);
  assert.ok(!signedIn(blocked), 'the right password was not even checked');
  assert.deepEqual(
    await auditedAddresses(server, 'login.failure'),
    Array(LIMIT).fill(realAddress),
    'every failure is recorded with the real address',
  );
  assert.deepEqual(await auditedAddresses(server, 'login.rate_limited'), [realAddress]);
  // Someone else behind the same proxy is not blocked.
  const other = await attempt(
    server,
    bank,
    { 'x-forwarded-for': otherForwarded },
    'alice@example.com',
    PASSWORD,
  );
  assert.ok(signedIn(other), 'another client address signs in');
}

describe('behind one proxy (TRUSTED_PROXIES=1)', () => {
  let server: TestServer;
  let bank: Bank;
  before(async () => {
    server = await startTestServer({
      env: { TRUSTED_PROXIES: '1', IP_FAILURE_LIMIT: String(LIMIT) },
    });
    bank = await seedBank(server);
  });
  after(() => server.close());

  test('invented X-Forwarded-For entries do not escape the per-address limit', async () => {
    // nginx's $proxy_add_x_forwarded_for keeps what the client sent and appends the address it saw.
    await attack(server, bank, (fake) => `${fake}, 203.0.113.7`, '203.0.113.7', '203.0.113.8');
  });

  test('X-Forwarded-Host, even from the proxy, never chooses a published URL', async () => {
    assert.equal(
      await discovery(server, {
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'auth.example.com',
      }),
      `${server.issuer}/token`,
    );
  });
});

describe('behind two proxies (TRUSTED_PROXIES=2)', () => {
  let server: TestServer;
  let bank: Bank;
  before(async () => {
    server = await startTestServer({
      env: { TRUSTED_PROXIES: '2', IP_FAILURE_LIMIT: String(LIMIT) },
    });
    bank = await seedBank(server);
  });
  after(() => server.close());

  test('the client is the address two hops from the right', async () => {
    await attack(
      server,
      bank,
      (fake) => `${fake}, 203.0.113.70, 10.0.0.5`,
      '203.0.113.70',
      '203.0.113.71, 10.0.0.5',
    );
  });
});

describe('behind proxies named by address (TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8)', () => {
  let server: TestServer;
  let bank: Bank;
  before(async () => {
    server = await startTestServer({
      env: { TRUSTED_PROXIES: '127.0.0.1,10.0.0.0/8', IP_FAILURE_LIMIT: String(LIMIT) },
    });
    bank = await seedBank(server);
  });
  after(() => server.close());

  test('the client is the right-most address that is not a trusted proxy', async () => {
    // The test connects from 127.0.0.1 (the proxy next to the server); 10.1.2.3 is an inner proxy.
    await attack(
      server,
      bank,
      (fake) => `${fake}, 203.0.113.20, 10.1.2.3`,
      '203.0.113.20',
      '203.0.113.21, 10.1.2.3',
    );
  });

  test('the X-Forwarded-Host of a trusted peer does not choose published URLs either', async () => {
    assert.equal(
      await discovery(server, {
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'auth.example.com',
      }),
      `${server.issuer}/token`,
    );
  });
});

describe('a peer that is not a trusted proxy (TRUSTED_PROXIES=10.0.0.0/8)', () => {
  let server: TestServer;
  let bank: Bank;
  before(async () => {
    server = await startTestServer({
      env: { TRUSTED_PROXIES: '10.0.0.0/8', IP_FAILURE_LIMIT: String(LIMIT) },
    });
    bank = await seedBank(server);
  });
  after(() => server.close());

  test('its X-Forwarded-For is ignored: the limit and the audit log use its own address', async () => {
    // The test connects from 127.0.0.1, which is not in 10.0.0.0/8: it reached the server directly.
    for (let i = 0; i < LIMIT; i++) {
      const page = await attempt(
        server,
        bank,
        { 'x-forwarded-for': `${invented()}, 10.1.2.3` },
        `nobody-${i}@example.com`,
        `wrong guess ${i}`,
      );
      assert.equal(page.status, 401);
    }
    const blocked = await attempt(
      server,
      bank,
      { 'x-forwarded-for': invented() },
      'alice@example.com',
      PASSWORD,
    );
    assert.equal(blocked.status, 429);
    assert.equal(shown(blocked), BLOCKED);
    assert.ok(!signedIn(blocked));
    assert.deepEqual(
      await auditedAddresses(server, 'login.failure'),
      Array(LIMIT).fill('127.0.0.1'),
    );
  });

  test('its X-Forwarded-Host does not choose published URLs', async () => {
    assert.equal(
      await discovery(server, {
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.example',
      }),
      `${server.issuer}/token`,
    );
  });
});
