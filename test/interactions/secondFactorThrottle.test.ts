// Guessing second-factor codes: wrong TOTP and recovery codes lock the second factor however the
// attempts are spread over logins (a right password, a password-only sign-in or a step-up in
// between clears nothing), also under parallel attempts; they count against the source
// address, which gets its points back only when a sign-in completes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateSecret, generateSync } from 'otplib';
import { manualClock } from '../../src/clock.ts';
import { authorizationUrl, HttpBrowser, type Page, pkce } from '../support/browserless.ts';
import { BANK_API, PASSWORD, REDIRECT_URI } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const NOT_RIGHT = 'That code is not right. Try again.';
const RECOVERY_NOT_RIGHT = 'That recovery code is not right, or was already used.';
const TOO_MANY = 'Too many attempts. Wait a while and try again.';
const NETWORK_LIMIT = 'Too many failed sign-ins from your network. Try again in 15 minutes.';

let ipCounter = 0;
const newAddress = () => `203.0.113.${++ipCounter}`;

const shown = (page: Page) =>
  /role="alert" id="error">([^<]*)</.exec(page.html)?.[1]?.replace(/&#39;/g, "'");
const codeOf = (page: Page) =>
  page.location?.startsWith(REDIRECT_URI) ? new URL(page.location).searchParams.get('code') : null;
/** How a code submission was answered. */
const outcome = (page: Page, wrong = NOT_RIGHT) =>
  page.status === 401 && shown(page) === wrong
    ? 'checked'
    : page.status === 429 && shown(page) === TOO_MANY
      ? 'refused'
      : page.status === 429 && shown(page) === NETWORK_LIMIT
        ? 'rate_limited'
        : codeOf(page)
          ? 'signed_in'
          : `unexpected ${page.status} ${shown(page)}`;

function world(env: Record<string, string>) {
  const clock = manualClock(Date.UTC(2026, 11, 1, 9, 0, 0));
  const t = {
    clock,
    server: undefined as unknown as TestServer,
    clientId: '',
    /** Creates a person with an authenticator app (seed known to the test) and recovery codes. */
    async person(email: string) {
      const { accounts, totp, recoveryCodes } = t.server.app.services;
      const user = await accounts.create({ email, password: PASSWORD, roles: ['customer'] });
      const secret = generateSecret();
      await totp.importConfirmed([{ userId: user.id, secret }]);
      const recovery = await recoveryCodes.regenerate(user.id);
      return { id: user.id, email, secret, recovery };
    },
    totp: (secret: string) => generateSync({ secret, epoch: Math.floor(clock.now() / 1000) }),
    /** A six-digit code no step of the drift window accepts. */
    wrong(secret: string, n: number) {
      const valid = new Set(
        [-1, 0, 1].map((s) =>
          generateSync({ secret, epoch: Math.floor(clock.now() / 1000) + s * 30 }),
        ),
      );
      for (let i = n; ; i++) {
        const guess = String((123456 + i * 7919) % 1_000_000).padStart(6, '0');
        if (!valid.has(guess)) return guess;
      }
    },
    /** Opens an authorization for `scope` from `ip` (a new browser unless one is given). */
    async open(ip: string, scope: string, browser = new HttpBrowser({ 'x-forwarded-for': ip })) {
      const { challenge } = pkce();
      const page = await browser.open(
        authorizationUrl({
          issuer: t.server.issuer,
          clientId: t.clientId,
          redirectUri: REDIRECT_URI,
          scope: `openid ${scope}`,
          resource: BANK_API,
          challenge,
          state: 'st',
        }),
        t.server.issuer,
      );
      return { browser, page };
    },
    /** A new login from `ip` up to the second-factor page (or wherever the password led). */
    async password(ip: string, email: string, scope = 'payments:write') {
      const { browser, page } = await t.open(ip, scope);
      const next = await browser.submit(
        page,
        /\/login$/,
        { email, password: PASSWORD },
        t.server.issuer,
      );
      return { browser, page: next };
    },
    submit: (browser: HttpBrowser, page: Page, path: RegExp, code: string) =>
      browser.submit(page, path, { code }, t.server.issuer),
    async events(action: string, userId: string) {
      const { events } = await t.server.app.services.audit.query({
        action,
        targetType: 'user',
        targetId: userId,
        limit: 500,
      });
      return events;
    },
    addressPoints: async (ip: string) =>
      Number(
        (
          await t.server.db
            .knex('rate_limits')
            .where({ key: `signin-ip:${ip}` })
            .first()
        )?.points ?? 0,
      ),
  };
  before(async () => {
    t.server = await startTestServer({ clock, env: { TRUSTED_PROXIES: '1', ...env } });
    const { catalogue, clients, roles } = t.server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      scopes: [
        { name: 'accounts:read', description: 'See your accounts', requiredLevel: 1 },
        { name: 'payments:write', description: 'Make payments', requiredLevel: 2 },
      ],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read', 'payments:write'] });
    const created = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECT_URI],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read', 'payments:write'] },
      firstParty: true,
    });
    t.clientId = created.client.clientId;
  });
  after(() => t.server.close());
  return t;
}

describe('second-factor guessing and the account lockout', () => {
  const t = world({ IP_FAILURE_LIMIT: '1000' });

  test('password, 4 wrong codes, password again…: the fifth wrong code locks the second factor', async () => {
    const ip = newAddress();
    const victim = await t.person('victim1@example.com');
    const answers: string[] = [];
    for (let round = 0; round < 5; round++) {
      const { browser, page } = await t.password(ip, victim.email);
      assert.match(page.html, /autocomplete="one-time-code"/, 'the password is right');
      let step = page;
      for (let i = 0; i < 4; i++) {
        step = await t.submit(browser, step, /\/totp$/, t.wrong(victim.secret, round * 4 + i));
        answers.push(outcome(step));
      }
    }
    const tally = Object.fromEntries(
      [...new Set(answers)].map((a) => [a, answers.filter((x) => x === a).length]),
    );
    assert.deepEqual(
      tally,
      { checked: 5, refused: 15 },
      'only 5 of the 20 guesses were checked, the rest refused by the lock',
    );
    const checked = (await t.events('mfa.failure', victim.id)).filter(
      (e) => e.details.reason === 'invalid',
    );
    assert.equal(checked.length, 5, 'five codes were checked');
    const lock = await t.server.app.services.accounts.lockState(victim.email);
    assert.equal(lock.lockedUntil?.getTime(), t.clock.now() + 60_000, 'locked for a minute');
    const [locked] = await t.events('account.locked', victim.id);
    assert.deepEqual(locked?.details, {
      until: new Date(t.clock.now() + 60_000).toISOString(),
      reason: 'wrong_second_factors',
    });

    // The right code is refused too while the lock lasts: nothing is granted.
    const { browser, page } = await t.password(ip, victim.email);
    const refused = await t.submit(browser, page, /\/totp$/, t.totp(victim.secret));
    assert.equal(refused.status, 429);
    assert.equal(shown(refused), TOO_MANY);
    assert.equal(codeOf(refused), null);
    assert.equal((await t.events('login.success', victim.id)).length, 0, 'no sign-in completed');

    // After the lock, the right code signs in, and that completed sign-in clears the count.
    t.clock.advance(61_000);
    const done = await t.submit(browser, refused, /\/totp$/, t.totp(victim.secret));
    assert.ok(codeOf(done), 'signed in once the lock is over');
    assert.deepEqual(await t.server.app.services.accounts.lockState(victim.email), {
      failures: 0,
      lockedUntil: null,
    });
  });

  test('a password-only sign-in between step-ups clears no wrong code', async () => {
    const ip = newAddress();
    const victim = await t.person('victim2@example.com');
    const answers: string[] = [];
    for (let round = 0; round < 3; round++) {
      // A complete level-1 sign-in with the password alone, then a step-up for a level-2 scope.
      const { browser, page } = await t.password(ip, victim.email, 'accounts:read');
      assert.ok(codeOf(page), 'signed in with the password alone');
      const stepUp = await t.open(ip, 'payments:write', browser);
      assert.match(stepUp.page.html, /this needs a stronger sign-in/);
      let step = stepUp.page;
      for (let i = 0; i < 4; i++) {
        step = await t.submit(browser, step, /\/totp$/, t.wrong(victim.secret, round * 4 + i));
        answers.push(outcome(step));
      }
    }
    assert.deepEqual(
      answers,
      [...Array(5).fill('checked'), ...Array(7).fill('refused')],
      'the fifth wrong code locked the second factor; password-only sign-ins cleared nothing',
    );
    assert.ok((await t.server.app.services.accounts.lockState(victim.email)).lockedUntil);
  });

  test('wrong recovery codes count the same way; the right one is refused while locked and stays unused', async () => {
    const ip = newAddress();
    const victim = await t.person('victim3@example.com');
    const answers: string[] = [];
    for (let round = 0; round < 2; round++) {
      const { browser, page } = await t.password(ip, victim.email);
      let step = page;
      for (let i = 0; i < 4; i++) {
        step = await t.submit(browser, step, /\/recovery$/, `WRONG-CODE-${round}${i}`);
        answers.push(outcome(step, RECOVERY_NOT_RIGHT));
      }
    }
    assert.deepEqual(answers, [...Array(5).fill('checked'), ...Array(3).fill('refused')]);
    const { browser, page } = await t.password(ip, victim.email);
    const refused = await t.submit(browser, page, /\/recovery$/, victim.recovery[0]!);
    assert.equal(refused.status, 429);
    assert.equal(shown(refused), TOO_MANY);
    assert.equal(codeOf(refused), null);
    assert.equal(await t.server.app.services.recoveryCodes.remaining(victim.id), 10, 'not used');
  });

  test('50 simultaneous wrong codes, while right passwords are submitted: only 5 codes are checked', async () => {
    const ip = newAddress();
    const victim = await t.person('victim4@example.com');
    // Ten logins past the password, five wrong codes each, sent at once together with ten more
    // right passwords (which must not clear anything meanwhile).
    const logins = [];
    for (let i = 0; i < 10; i++) logins.push(await t.password(ip, victim.email));
    const fresh = await Promise.all(Array.from({ length: 10 }, () => t.open(ip, 'payments:write')));
    const codes = logins.flatMap(({ browser, page }, i) =>
      Array.from({ length: 5 }, (_, j) =>
        t
          .submit(browser, page, /\/totp$/, t.wrong(victim.secret, i * 5 + j))
          .then((p) => outcome(p)),
      ),
    );
    const passwords = fresh.map(({ browser, page }) =>
      browser.submit(
        page,
        /\/login$/,
        { email: victim.email, password: PASSWORD },
        t.server.issuer,
      ),
    );
    const [answers] = await Promise.all([Promise.all(codes), Promise.all(passwords)]);
    assert.equal(answers.filter((a) => a === 'checked').length, 5, 'five codes checked');
    assert.equal(answers.filter((a) => a === 'refused').length, 45, 'the others refused');
    const checked = (await t.events('mfa.failure', victim.id)).filter(
      (e) => e.details.reason === 'invalid',
    );
    assert.equal(checked.length, 5);
    assert.ok((await t.server.app.services.accounts.lockState(victim.email)).lockedUntil);
  });
});

describe('second-factor guessing and the per-address limit', () => {
  const t = world({ IP_FAILURE_LIMIT: '4' });

  test('wrong codes and recovery codes count against the source address', async () => {
    const ip = newAddress();
    const victim = await t.person('victim5@example.com');
    const { browser, page } = await t.password(ip, victim.email);
    const a = await t.submit(browser, page, /\/totp$/, t.wrong(victim.secret, 1));
    const b = await t.submit(browser, a, /\/recovery$/, 'WRONG-CODE-1');
    const c = await t.submit(browser, b, /\/totp$/, t.wrong(victim.secret, 2));
    assert.deepEqual(
      [outcome(a), outcome(b, RECOVERY_NOT_RIGHT), outcome(c)],
      ['checked', 'checked', 'checked'],
    );
    // The password and three wrong codes: the address has used its four points.
    const blocked = await t.submit(browser, c, /\/totp$/, t.totp(victim.secret));
    assert.equal(blocked.status, 429, 'the fifth attempt from the address is refused');
    assert.equal(shown(blocked), NETWORK_LIMIT);
    assert.match(blocked.html, /autocomplete="one-time-code"/, 'the second-factor page again');
    assert.equal(codeOf(blocked), null, 'not signed in');
    const limited = await t.server.app.services.audit.query({ action: 'login.rate_limited' });
    assert.deepEqual(
      limited.events.map((e) => e.details),
      [{ client: t.clientId, method: 'totp' }],
    );
    assert.equal(
      (await t.events('mfa.failure', victim.id)).length,
      3,
      'the refused code was not checked',
    );
    // Another address is not affected.
    const other = await t.password(newAddress(), victim.email);
    assert.ok(codeOf(await t.submit(other.browser, other.page, /\/totp$/, t.totp(victim.secret))));
  });

  test('a right password gives its point back only when the sign-in completes', async () => {
    const ip = newAddress();
    const victim = await t.person('victim6@example.com');
    // Four right passwords, each login abandoned at the second factor: four points used.
    for (let i = 0; i < 4; i++) {
      const { page } = await t.password(ip, victim.email);
      assert.match(page.html, /autocomplete="one-time-code"/);
    }
    assert.equal(await t.addressPoints(ip), 4);
    const blocked = await t.password(ip, victim.email);
    assert.equal(blocked.page.status, 429);
    assert.equal(shown(blocked.page), NETWORK_LIMIT);

    // From another address, a completed sign-in (password and code) leaves no point behind.
    const elsewhere = newAddress();
    const { browser, page } = await t.password(elsewhere, victim.email);
    assert.equal(await t.addressPoints(elsewhere), 1, 'the password counts until the end');
    const done = await t.submit(browser, page, /\/totp$/, t.totp(victim.secret));
    assert.ok(codeOf(done));
    assert.equal(await t.addressPoints(elsewhere), 0, 'both steps given back at completion');
  });
});
