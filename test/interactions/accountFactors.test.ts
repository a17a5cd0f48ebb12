// Second factors on the account page: adding one, and changes that need a recent sign-in at
// level 2 (once there is a second factor), and the last factor kept where policy requires one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateSync } from 'otplib';
import { manualClock } from '../../src/clock.ts';
import { HttpBrowser, type Page } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

function setup(env: Record<string, string> = {}) {
  const clock = manualClock(Date.UTC(2026, 10, 29, 9, 0, 0));
  const ctx = { clock, server: undefined as unknown as TestServer };
  before(async () => {
    ctx.server = await startTestServer({ clock, env });
    await ctx.server.app.services.accounts.create({
      email: 'alice@example.com',
      password: PASSWORD,
    });
  });
  after(() => ctx.server.close());
  return ctx;
}

const code = (clock: { now(): number }, secret: string) =>
  generateSync({ secret, epoch: Math.floor(clock.now() / 1000) });
const secretOn = (page: Page) => /value="([A-Z2-7]+)" data-totp-secret/.exec(page.html)![1]!;

/** Signs in on the account page (password, and the app's code when one is asked for). */
async function signIn(
  browser: HttpBrowser,
  server: TestServer,
  totp?: () => string,
): Promise<Page> {
  const page = await browser.open(server.url('/account'));
  let next = await browser.submit(page, /\/login$/, {
    email: 'alice@example.com',
    password: PASSWORD,
  });
  if (next.html.includes('autocomplete="one-time-code"') && totp)
    next = await browser.submit(next, /\/totp$/, { code: totp() });
  return next;
}

describe('account page: second factors', () => {
  const t = setup();

  test('a person without a second factor adds an authenticator app and gets recovery codes', async () => {
    const browser = new HttpBrowser();
    const account = await signIn(browser, t.server);
    assert.match(account.html, /<td>Authenticator app<\/td>\s*<td>Not set up<\/td>/);
    const enrol = await browser.open(t.server.url('/account/totp'));
    const secret = secretOn(enrol);
    const codes = await browser.submit(enrol, /^\/account\/totp$/, { code: code(t.clock, secret) });
    assert.equal([...codes.html.matchAll(/<li><code>/g)].length, 10);
    const after = await browser.open(t.server.url('/account'));
    assert.match(after.html, /<td>Authenticator app<\/td>\s*<td>On<\/td>/);
    assert.match(after.html, /10 left/);
  });

  test('with a second factor, a password-only session cannot change factors until it confirms with the factor', async () => {
    const { totp } = t.server.app.services;
    const browser = new HttpBrowser();
    t.clock.advance(60_000);
    // A level-1 sign-in (the account page asks no more by itself).
    const account = await signIn(browser, t.server);
    assert.match(account.html, /To add or remove a second factor, confirm it is you/);
    const refused = await browser.open(t.server.url('/account/totp'));
    assert.match(refused.html, /To change how you sign in, confirm it is you first/);

    const user = (await t.server.app.services.accounts.get('alice@example.com'))!;
    // Re-authenticate: password and the app's code (level 2) within the last five minutes.
    const reauth = await browser.submit(refused, /\/account\/reauth$/, {});
    assert.match(reauth.html, /autocomplete="current-password"/);
    // Prefilled with the person's email, and saying why it asks again.
    assert.match(
      reauth.html,
      /autocomplete="username" required autofocus value="alice@example.com"/,
    );
    assert.match(reauth.html, /Confirm it is you: to change how you sign in, sign in again/);
    const askCode = await browser.submit(reauth, /\/login$/, {
      email: 'alice@example.com',
      password: PASSWORD,
    });
    assert.match(askCode.html, /autocomplete="one-time-code"/);
    const enrolSecret = await findSecret(t);
    const back = await browser.submit(askCode, /\/totp$/, { code: code(t.clock, enrolSecret) });
    assert.match(back.html, /<h1>Your account<\/h1>/);
    assert.doesNotMatch(back.html, /To add or remove a second factor/);

    // Five minutes later the sign-in is no longer recent enough.
    t.clock.advance(301_000);
    const late = await browser.submit(back, /\/account\/totp\/remove$/, {});
    assert.match(late.html, /To change how you sign in, confirm it is you first/);
    assert.equal(await totp.has(user.id), true, 'nothing was removed');
  });

  test('new recovery codes and a removed app are in the audit log when the page answers', async () => {
    const { totp, audit } = t.server.app.services;
    const user = (await t.server.app.services.accounts.get('alice@example.com'))!;
    const secret = await findSecret(t);
    const events = async (action: string) =>
      (await audit.query({ action, actorId: user.id })).events.map((e) => ({
        target: e.target,
        outcome: e.outcome,
        details: e.details,
      }));
    t.clock.advance(60_000);
    const browser = new HttpBrowser();
    // Confirmed with the app (level 2) just now, as changing factors needs.
    const level1 = await signIn(browser, t.server);
    const reauth = await browser.submit(level1, /\/account\/reauth$/, {});
    const askCode = await browser.submit(reauth, /\/login$/, {
      email: 'alice@example.com',
      password: PASSWORD,
    });
    const account = await browser.submit(askCode, /\/totp$/, { code: code(t.clock, secret) });
    assert.doesNotMatch(account.html, /To add or remove a second factor/);

    const codes = await browser.submit(account, /^\/account\/recovery-codes$/, {});
    assert.equal([...codes.html.matchAll(/<li><code>/g)].length, 10);
    // Recorded before the page with the codes left (no waiting: the response waited for it).
    assert.deepEqual(await events('recovery_codes.regenerated'), [
      { target: { type: 'user', id: user.id }, outcome: 'success', details: {} },
    ]);

    const fresh = await browser.open(t.server.url('/account'));
    const removed = await browser.submit(fresh, /^\/account\/totp\/remove$/, {});
    assert.match(removed.html, /<td>Authenticator app<\/td>\s*<td>Not set up<\/td>/);
    assert.equal(await totp.has(user.id), false);
    assert.deepEqual(await events('mfa.removed'), [
      { target: { type: 'user', id: user.id }, outcome: 'success', details: { method: 'totp' } },
    ]);
  });
});

/** The seed of alice's app, read back through the service (the test plays the phone). */
async function findSecret(t: { server: TestServer }): Promise<string> {
  const { accounts, sealer } = t.server.app.services;
  const user = (await accounts.get('alice@example.com'))!;
  const row = await t.server.db
    .knex('totp_authenticators')
    .where({ user_id: user.id })
    .whereNotNull('confirmed_at')
    .first();
  return sealer.openString(row.secret_sealed, `totp:${user.id}`);
}

describe('account page: where a second factor is required', () => {
  const t = setup({ REQUIRE_MFA: 'true' });

  test('the last second factor cannot be removed', async () => {
    const browser = new HttpBrowser();
    // REQUIRE_MFA: the first sign-in enrols an app.
    const page = await browser.open(t.server.url('/account'));
    const enrol = await browser.submit(page, /\/login$/, {
      email: 'alice@example.com',
      password: PASSWORD,
    });
    const secret = secretOn(enrol);
    const codes = await browser.submit(enrol, /\/enrol\/totp$/, { code: code(t.clock, secret) });
    // The enrolment does not count as using the app: its next code finishes the sign-in.
    const ask = await browser.submit(codes, /\/continue$/, {});
    assert.match(ask.html, /autocomplete="one-time-code"/);
    t.clock.advance(30_000);
    const account = await browser.submit(ask, /\/totp$/, { code: code(t.clock, secret) });
    assert.match(account.html, /<td>Authenticator app<\/td>\s*<td>On<\/td>/);
    const refused = await browser.submit(account, /\/account\/totp\/remove$/, {});
    assert.equal(refused.status, 403);
    assert.match(refused.html, /This is your last second factor, and this service requires one/);
    const user = (await t.server.app.services.accounts.get('alice@example.com'))!;
    assert.equal(await t.server.app.services.totp.has(user.id), true);
  });
});
