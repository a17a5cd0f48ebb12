// Defences of the sign-in form: one message for every failure, a lockout that engages and
// releases and holds under parallel attempts, a per-address limit, CSRF, and equal timing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../../src/clock.ts';
import { GENERIC_SIGN_IN_ERROR } from '../../src/interactions/login.ts';
import { HttpBrowser, type Page } from '../support/browserless.ts';
import { type Bank, PASSWORD, seedBank } from '../support/fixtures.ts';
import { english } from '../support/i18n.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let ipCounter = 0;
/** Each test signs in from its own address, so the per-address limit of one does not leak into another. */
const newAddress = () => `198.51.100.${++ipCounter}`;

async function openLogin(
  server: TestServer,
  bank: Bank,
  ip: string,
): Promise<{ browser: HttpBrowser; page: Page }> {
  const browser = new HttpBrowser({ 'x-forwarded-for': ip });
  const page = await browser.open(bank.authorizationUrl({ state: 's' }), server.issuer);
  assert.match(page.html, /autocomplete="current-password"/);
  return { browser, page };
}

async function attempt(
  server: TestServer,
  bank: Bank,
  email: string,
  password: string,
  ip: string,
): Promise<Page> {
  const { browser, page } = await openLogin(server, bank, ip);
  return browser.submit(page, /\/login$/, { email, password }, server.issuer);
}

/** Past the password step: the consent page (or the client) comes next, not the login form again. */
const signedIn = (page: Page) =>
  page.status < 400 && !/autocomplete="current-password"/.test(page.html);

const shown = (page: Page) =>
  /<p class="notice error" role="alert" id="error">([^<]*)<\/p>/
    .exec(page.html)?.[1]
    ?.replace(/&#39;/g, "'");

describe('sign-in defences', () => {
  const clock = manualClock();
  let server: TestServer;
  let bank: Bank;

  before(async () => {
    server = await startTestServer({
      clock,
      env: { TRUSTED_PROXIES: '1', IP_FAILURE_LIMIT: '1000' },
    });
    bank = await seedBank(server);
    const { accounts } = server.app.services;
    for (const email of [
      'locked@example.com',
      'disabled@example.com',
      'victim@example.com',
      'parallel@example.com',
      'csrf@example.com',
    ]) {
      await accounts.create({ email, password: PASSWORD });
    }
    await accounts.lock('locked@example.com');
    await accounts.disable('disabled@example.com');
  });
  after(() => server.close());

  test('unknown email, wrong password, locked and disabled accounts all get the same answer', async () => {
    const ip = newAddress();
    const pages = [
      await attempt(server, bank, 'nobody@example.com', PASSWORD, ip),
      await attempt(server, bank, 'alice@example.com', 'not the right password', ip),
      await attempt(server, bank, 'locked@example.com', PASSWORD, ip),
      await attempt(server, bank, 'disabled@example.com', PASSWORD, ip),
    ];
    for (const page of pages) {
      assert.equal(page.status, 401);
      assert.equal(shown(page), english(GENERIC_SIGN_IN_ERROR));
    }
    const normalized = pages.map((p) =>
      p.html.replace(/value="[^"]*"/g, '').replace(/\/interaction\/[^/"]+/g, '/interaction/UID'),
    );
    assert.equal(
      new Set(normalized).size,
      1,
      'identical pages but for form values and the interaction id',
    );
  });

  test('the lockout engages after 5 failures, releases after a minute, then doubles', async () => {
    const ip = newAddress();
    const { accounts } = server.app.services;
    for (let i = 0; i < 5; i++)
      assert.equal(
        (await attempt(server, bank, 'victim@example.com', `wrong ${i}`, ip)).status,
        401,
      );
    const locked = await accounts.lockState('victim@example.com');
    assert.equal(locked.failures, 5);
    assert.equal(locked.lockedUntil?.getTime(), clock.now() + 60_000);

    // While locked even the right password fails, with the same message.
    const during = await attempt(server, bank, 'victim@example.com', PASSWORD, ip);
    assert.equal(shown(during), english(GENERIC_SIGN_IN_ERROR));
    assert.equal(
      (await accounts.lockState('victim@example.com')).failures,
      5,
      'no attempt was counted while locked',
    );

    clock.advance(61_000);
    assert.equal(await accounts.lockState('victim@example.com').then((s) => s.lockedUntil), null);
    // One more failure after the lock: locked again, twice as long.
    await attempt(server, bank, 'victim@example.com', 'wrong again', ip);
    assert.equal(
      (await accounts.lockState('victim@example.com')).lockedUntil?.getTime(),
      clock.now() + 120_000,
    );

    clock.advance(121_000);
    const ok = await attempt(server, bank, 'victim@example.com', PASSWORD, ip);
    assert.ok(signedIn(ok), 'signed in once the lock is over');
    assert.deepEqual(await accounts.lockState('victim@example.com'), {
      failures: 0,
      lockedUntil: null,
    });
  });

  test('50 simultaneous wrong passwords: only the 5 allowed attempts are checked', async () => {
    const ip = newAddress();
    const forms = await Promise.all(Array.from({ length: 50 }, () => openLogin(server, bank, ip)));
    const pages = await Promise.all(
      forms.map(({ browser, page }) =>
        browser.submit(
          page,
          /\/login$/,
          { email: 'parallel@example.com', password: 'not it at all' },
          server.issuer,
        ),
      ),
    );
    for (const page of pages) assert.equal(shown(page), english(GENERIC_SIGN_IN_ERROR));
    const state = await server.app.services.accounts.lockState('parallel@example.com');
    assert.equal(state.failures, 5);
    assert.ok(state.lockedUntil);
  });

  test('a form without the CSRF token of its interaction is refused and changes nothing', async () => {
    const ip = newAddress();
    const { browser, page } = await openLogin(server, bank, ip);
    const other = await openLogin(server, bank, ip);
    const action = /action="(\/interaction\/[^"]+\/login)"/.exec(page.html)![1]!;
    const foreign = /name="_csrf" value="([^"]+)"/.exec(other.page.html)![1]!;
    for (const form of [{}, { _csrf: 'forged' }, { _csrf: foreign }] as Record<string, string>[]) {
      const res = await browser.request(server.url(action), {
        form: { ...form, email: 'csrf@example.com', password: 'wrong on purpose' },
      });
      assert.equal(res.status, 403);
      assert.match(res.html, /This form has expired or did not come from this site/);
      assert.equal(res.location, undefined, 'not signed in');
    }
    assert.equal((await server.app.services.accounts.lockState('csrf@example.com')).failures, 0);
  });

  test('unknown email and wrong password take the same time (medians within 20%)', async () => {
    const ip = newAddress();
    const time = async (email: string, password: string) => {
      const { browser, page } = await openLogin(server, bank, ip);
      const start = process.hrtime.bigint();
      await browser.submit(page, /\/login$/, { email, password }, server.issuer);
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    // Timing on a shared machine is noisy: pairs are interleaved (in random order) so both kinds
    // see the same load, and a noisy round is measured again, up to three rounds. Without the
    // dummy Argon2 verification an unknown email is several times faster, so every round fails.
    const rounds: string[] = [];
    for (let round = 0; round < 3; round++) {
      const unknown: number[] = [];
      const wrong: number[] = [];
      for (let i = 0; i < 20; i++) {
        const pair = [
          async () => unknown.push(await time(`ghost${round}-${i}@example.com`, 'whatever it is')),
          async () => wrong.push(await time('alice@example.com', `wrong guess ${i}`)),
        ];
        if (Math.random() < 0.5) pair.reverse();
        for (const run of pair) await run();
        await server.app.services.accounts.unlock('alice@example.com'); // measure wrong passwords, not the lock
      }
      const [u, w] = [median(unknown), median(wrong)];
      rounds.push(`unknown email ${u.toFixed(1)} ms vs wrong password ${w.toFixed(1)} ms`);
      if (Math.abs(u - w) / Math.max(u, w) < 0.2) return;
    }
    assert.fail(`response times differ by more than 20% in every round: ${rounds.join('; ')}`);
  });
});

describe('per-address limit', () => {
  let server: TestServer;
  let bank: Bank;
  before(async () => {
    server = await startTestServer({ env: { TRUSTED_PROXIES: '1', IP_FAILURE_LIMIT: '3' } });
    bank = await seedBank(server);
  });
  after(() => server.close());

  test('too many failures from one address across accounts are refused; other addresses are not', async () => {
    const ip = newAddress();
    for (const email of ['a@example.com', 'b@example.com', 'alice@example.com']) {
      assert.equal((await attempt(server, bank, email, 'guess 123 abc', ip)).status, 401);
    }
    const blocked = await attempt(server, bank, 'alice@example.com', PASSWORD, ip);
    assert.equal(blocked.status, 429);
    assert.equal(
      shown(blocked),
      'Too many failed sign-ins from your network. Try again in 15 minutes.',
    );
    assert.ok(signedIn(await attempt(server, bank, 'alice@example.com', PASSWORD, newAddress())));
  });
});

const person = (n: number) => `person${n}@example.com`;

describe('sign-ins pending at once from one address', () => {
  let server: TestServer;
  let bank: Bank;
  before(async () => {
    server = await startTestServer({
      env: { TRUSTED_PROXIES: '1', IP_FAILURE_LIMIT: '3', IP_PENDING_LIMIT: '20' },
    });
    bank = await seedBank(server);
    // One account each: parallel attempts on one account are bounded by its lockout instead.
    for (let n = 0; n < 30; n++)
      await server.app.services.accounts.create({ email: person(n), password: PASSWORD });
  });
  after(() => server.close());

  test('more than IP_FAILURE_LIMIT right passwords in flight at once all sign in', async () => {
    const ip = newAddress();
    // 12 people behind one address (a NAT), their forms submitted at the same moment.
    const forms = await Promise.all(Array.from({ length: 12 }, () => openLogin(server, bank, ip)));
    const pages = await Promise.all(
      forms.map(({ browser, page }, n) =>
        browser.submit(page, /\/login$/, { email: person(n), password: PASSWORD }, server.issuer),
      ),
    );
    assert.deepEqual(
      pages.map((p) => (signedIn(p) ? 'signed in' : `${p.status} ${shown(p)}`)),
      Array(12).fill('signed in'),
    );
    // Nothing is left counting against the address.
    const counters = await server.app.db
      .knex('rate_limits')
      .whereIn('key', [`signin-ip:${ip}`, `signin-pending:${ip}`])
      .select('key', 'points');
    assert.ok(
      counters.every((c) => c.points === 0),
      JSON.stringify(counters),
    );
  });

  test('failures still block the address; attempts beyond IP_PENDING_LIMIT at once are refused as busy, not as failures', async () => {
    const ip = newAddress();
    const wrong = await Promise.all(
      Array.from({ length: 3 }, () => attempt(server, bank, 'a@example.com', 'guess 123 abc', ip)),
    );
    assert.deepEqual(
      wrong.map((p) => p.status),
      [401, 401, 401],
    );
    const blocked = await attempt(server, bank, 'alice@example.com', PASSWORD, ip);
    assert.equal(blocked.status, 429);
    assert.equal(
      shown(blocked),
      'Too many failed sign-ins from your network. Try again in 15 minutes.',
    );

    // More attempts at once than IP_PENDING_LIMIT (20) from a fresh address: the excess is
    // refused with its own message, none of them as a failure.
    const busy = newAddress();
    const forms = await Promise.all(
      Array.from({ length: 30 }, () => openLogin(server, bank, busy)),
    );
    const pages = await Promise.all(
      forms.map(({ browser, page }, n) =>
        browser.submit(page, /\/login$/, { email: person(n), password: PASSWORD }, server.issuer),
      ),
    );
    const refused = pages.filter((p) => p.status === 429);
    assert.ok(pages.filter(signedIn).length >= 20, 'at least the pending limit signed in');
    for (const p of refused)
      assert.equal(shown(p), 'Too many sign-ins from your network at once. Try again in a moment.');
    assert.equal(pages.filter(signedIn).length + refused.length, 30);
    assert.ok(refused.length > 0, 'the attempts over the pending limit were refused');
    const failures = await server.app.db
      .knex('rate_limits')
      .where({ key: `signin-ip:${busy}` })
      .first();
    assert.equal(failures?.points ?? 0, 0, 'none counted as a failure of the address');
  });
});
