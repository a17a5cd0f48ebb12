// Passkeys over HTTP, with a software authenticator: sign-in without a password and its refusals
// (a replayed or rolled-back counter, another account's userHandle), and registration errors shown
// as clear messages (a key registered already), never as their text (an unexpected error).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PASSKEY_ERROR } from '../../src/interactions/login.ts';
import { HttpBrowser } from '../support/browserless.ts';
import { english } from '../support/i18n.ts';
import { webauthnCeremony } from '../support/softAuthenticator.ts';
import { ACR, shown, webauthnWorld } from './webauthnWorld.ts';

const ALREADY_REGISTERED =
  'This security key or passkey is already registered. Use it to sign in, or add a different one.';

describe('passkeys', () => {
  const w = webauthnWorld(['alice', 'carol', 'dave', 'erin']);

  test('a passkey signs in without a password at level 3; a replayed or rolled-back counter and another userHandle are refused', async () => {
    // carol has no second factor: her first one is a passkey, added after the password alone.
    const setup = new HttpBrowser();
    const login = await setup.open(w.server.url('/account'));
    const account = await w.password(setup, login, 'carol');
    assert.match(account.html, /<h1>Your account<\/h1>/);
    const { result: codes } = await webauthnCeremony(
      setup,
      await setup.open(w.server.url('/account/webauthn')),
      'register',
      (o) => w.soft.carol!.register(o),
      { name: 'Carol key' },
    );
    assert.match(codes!.html, /Your recovery codes/);
    const [credential] = await w.credentialsOf('carol');

    const browser = new HttpBrowser();
    const { page, verifier } = await w.authorize(browser, 'accounts:read');
    const { result: done } = await webauthnCeremony(browser, page, 'authenticate', (o) =>
      w.soft.carol!.authenticate(o),
    );
    const claims = (await w.redeem(done!, verifier)).claims()!;
    assert.equal(claims.acr, ACR[3]);
    assert.deepEqual((claims.amr as string[]).sort(), ['hwk', 'mfa', 'user']);
    const counter = Number((await w.credentialsOf('carol'))[0]!.counter);
    assert.equal(counter, 1);

    const attempts: [string, { counter?: number; userHandle?: string }, string][] = [
      ['replayed counter', { counter }, 'counter_rollback'],
      ['rolled-back counter', { counter: counter - 1 }, 'counter_rollback'],
      [
        "alice's userHandle",
        { userHandle: Buffer.from(w.people.alice!.id).toString('base64url'), counter: 10 },
        'verification',
      ],
    ];
    for (const [what, opts, reason] of attempts) {
      const other = new HttpBrowser();
      const start = await w.authorize(other, 'accounts:read');
      const { result } = await webauthnCeremony(other, start.page, 'authenticate', (o) =>
        w.soft.carol!.authenticate(o, opts),
      );
      assert.equal(result!.status, 401, what);
      assert.equal(shown(result!), english(PASSKEY_ERROR), what);
      assert.equal(result!.location, undefined, `${what}: not signed in`);
      const failures = (
        await w.server.app.services.audit.query({ action: 'login.failure', limit: 500 })
      ).events;
      assert.equal(failures.at(-1)?.details.reason, reason, what);
    }
    assert.equal(Number((await w.credentialsOf('carol'))[0]!.counter), counter, 'counter kept');
    assert.equal(credential!.user_id, w.people.carol!.id);

    // The same credential registered again (an authenticator ignoring excludeCredentials):
    // a clear message, and nothing added.
    const again = await browser.open(w.server.url('/account/webauthn'));
    const { result: duplicate } = await webauthnCeremony(
      browser,
      again,
      'register',
      (o) => w.soft.carol!.register(o, { reuse: credential!.credential_id }),
      { name: 'Carol key again' },
    );
    assert.equal(shown(duplicate!), ALREADY_REGISTERED);
    assert.equal(duplicate!.status, 409);
    assert.equal((await w.credentialsOf('carol')).length, 1);
  });

  test('registering an already registered key during a login says so, without database text', async () => {
    const browser = new HttpBrowser();
    const { page } = await w.authorize(browser, 'mandates:write');
    const enrol = await w.totpStep(browser, await w.password(browser, page, 'dave'), 'dave');
    assert.match(enrol.html, /<h1>Add a second factor<\/h1>/);
    const carolKey = [...w.soft.carol!.credentials.keys()][0]!;
    const { result } = await webauthnCeremony(browser, enrol, 'register', (o) =>
      w.soft.carol!.register(o, { reuse: carolKey }),
    );
    assert.equal(shown(result!), ALREADY_REGISTERED);
    assert.equal(result!.status, 409);
    assert.doesNotMatch(result!.html, /insert into|duplicate key|constraint|webauthn_credentials/i);
    assert.equal((await w.credentialsOf('dave')).length, 0, 'nothing added');
    const [refused] = await w.events('mfa.change_refused', 'dave');
    assert.deepEqual(refused?.details, {
      change: 'add',
      method: 'webauthn',
      during: 'login',
      reason: 'already_registered',
      client: w.clientId,
    });
  });

  test('an unexpected error while registering shows the generic error page, not its text', async () => {
    const { knex } = w.server.db;
    await knex.raw(`create function refuse_credentials() returns trigger language plpgsql as $$
      begin raise exception 'internal detail: webauthn_credentials is read-only'; end $$`);
    await knex.raw(
      'create trigger refuse_credentials before insert on webauthn_credentials for each row execute function refuse_credentials()',
    );
    try {
      const browser = new HttpBrowser();
      const { page } = await w.authorize(browser, 'mandates:write');
      const enrol = await w.totpStep(browser, await w.password(browser, page, 'erin'), 'erin');
      const { result } = await webauthnCeremony(browser, enrol, 'register', (o) =>
        w.soft.erin!.register(o),
      );
      assert.equal(shown(result!), 'The server could not complete the request.');
      assert.equal(result!.status, 500);
      assert.doesNotMatch(result!.html, /internal detail|read-only|webauthn_credentials/);
      const line = w.logs.find((l) => l.includes('"msg":"request failed"'));
      assert.ok(line, 'the error is logged');
      assert.doesNotMatch(line, /"stack":"[^"]|\\n\s+at /, 'without a stack trace');
    } finally {
      await knex.raw('drop trigger refuse_credentials on webauthn_credentials');
      await knex.raw('drop function refuse_credentials()');
    }
    assert.equal((await w.credentialsOf('erin')).length, 0);
  });
});
