// Adding a security key over HTTP, with a software authenticator: a passkey enrolled during a
// login does not raise it (the login then asks to use it), and adding one needs a sign-in with the
// strongest factor held, in a login and on the account page.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findForm, HttpBrowser } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/fixtures.ts';
import { SoftAuthenticator, webauthnCeremony } from '../support/softAuthenticator.ts';
import { ACR, shown, webauthnWorld } from './webauthnWorld.ts';

const STRONGEST_FIRST = 'Sign in with your strongest second factor before adding another.';

describe('adding a security key or passkey', () => {
  const w = webauthnWorld(['alice', 'bob', 'frank']);

  test('a passkey enrolled during a login does not raise it: the login then asks to use the passkey', async () => {
    const browser = new HttpBrowser();
    const { page, verifier } = await w.authorize(browser, 'mandates:write');
    const ask = await w.password(browser, page, 'alice');
    assert.match(ask.html, /autocomplete="one-time-code"/);
    const enrol = await w.totpStep(browser, ask, 'alice');
    assert.match(enrol.html, /<h1>Add a second factor<\/h1>/);
    assert.match(enrol.html, /needs a phishing-resistant sign-in/);

    const { result: afterEnrol } = await webauthnCeremony(
      browser,
      enrol,
      'register',
      (o) => w.soft.alice!.register(o),
      { name: 'Alice laptop' },
    );
    // The key is added (and recorded), but the login is not finished by it.
    assert.equal((await w.credentialsOf('alice')).length, 1);
    const [enrolled] = await w.events('mfa.enrolled', 'alice');
    assert.deepEqual(enrolled?.details, {
      method: 'webauthn',
      during: 'login',
      client: w.clientId,
    });
    assert.equal(afterEnrol!.location, undefined, 'enrolling a passkey did not finish the login');
    assert.equal(afterEnrol!.status, 200);
    assert.match(afterEnrol!.html, /<h1>Confirm it is you<\/h1>/);
    assert.match(afterEnrol!.html, /Use your new security key or passkey to finish signing in/);
    assert.match(afterEnrol!.html, /data-webauthn="authenticate"/);
    assert.equal((await w.events('login.success', 'alice')).length, 0, 'no sign-in completed yet');

    // Using the passkey (an assertion) is what reaches level 3.
    const { result: done } = await webauthnCeremony(browser, afterEnrol!, 'authenticate', (o) =>
      w.soft.alice!.authenticate(o),
    );
    const tokens = await w.redeem(done!, verifier);
    assert.equal(tokens.scope, 'mandates:write');
    const claims = tokens.claims()!;
    assert.equal(claims.acr, ACR[3]);
    assert.deepEqual((claims.amr as string[]).sort(), ['hwk', 'mfa', 'otp', 'pwd', 'user']);
  });

  test('a key added elsewhere makes the open enrolment page of a level-2 login refuse another', async () => {
    // frank (authenticator app) opens two logins needing level 3, both at the enrolment page.
    const a = new HttpBrowser();
    const la = await w.authorize(a, 'mandates:write');
    const enrolA = await w.totpStep(a, await w.password(a, la.page, 'frank'), 'frank');
    assert.match(enrolA.html, /<h1>Add a second factor<\/h1>/);
    w.clock.advance(30_000);
    const b = new HttpBrowser();
    const lb = await w.authorize(b, 'mandates:write');
    const enrolB = await w.totpStep(b, await w.password(b, lb.page, 'frank'), 'frank');
    const { result: askB } = await webauthnCeremony(
      b,
      enrolB,
      'register',
      (o) => w.soft.frank!.register(o),
      { name: 'Frank key' },
    );
    assert.match(askB!.html, /<h1>Confirm it is you<\/h1>/);

    // frank now holds a passkey: login A, at level 2, may not add another key.
    const other = new SoftAuthenticator({ origin: w.server.issuer });
    const { options } = await webauthnCeremony(a, enrolA, 'register', (o) => other.register(o));
    assert.equal(options.status, 403, 'no registration options for a level-2 login');
    assert.deepEqual(JSON.parse(options.html), {
      error: 'access_denied',
      error_description: STRONGEST_FIRST,
    });
    const form = findForm(enrolA.html, /\/enrol\/webauthn$/);
    const post = await a.request(w.server.url(form.action), {
      form: {
        ...form.hidden,
        name: 'Second key',
        response: JSON.stringify(other.register(w.forgedOptions('frank'))),
      },
    });
    assert.equal(post.status, 403);
    assert.equal(shown(post), STRONGEST_FIRST);
    assert.deepEqual(
      (await w.credentialsOf('frank')).map((c) => c.name),
      ['Frank key'],
      'no credential added',
    );
    const refusals = await w.events('mfa.change_refused', 'frank');
    assert.deepEqual(
      refusals.map((e) => [e.outcome, e.details]),
      Array(2).fill([
        'failure',
        {
          change: 'add',
          method: 'webauthn',
          during: 'login',
          reason: 'weaker_sign_in',
          level: 2,
          required: 3,
          client: w.clientId,
        },
      ]),
    );
  });

  test('the account page refuses a new key from a level-2 session of a passkey holder, and accepts it after a level-3 sign-in', async () => {
    // bob (authenticator app) signs in with it and adds a first passkey from the account page.
    const first = new HttpBrowser();
    const a = await w.authorize(first, 'payments:write');
    const signedIn = await w.totpStep(first, await w.password(first, a.page, 'bob'), 'bob');
    assert.ok(signedIn.location?.startsWith(REDIRECT_URI));
    const addPage = await first.open(w.server.url('/account/webauthn'));
    const { result: added } = await webauthnCeremony(
      first,
      addPage,
      'register',
      (o) => w.soft.bob!.register(o),
      { name: 'Bob laptop' },
    );
    assert.equal(added!.url, w.server.url('/account?notice=factor-added'));
    assert.equal((await w.credentialsOf('bob')).length, 1);

    // Later, a sign-in with password and app code (level 2) in another browser.
    w.clock.advance(30_000);
    const second = new HttpBrowser();
    const b = await w.authorize(second, 'payments:write');
    const level2 = await w.totpStep(second, await w.password(second, b.page, 'bob'), 'bob');
    const tokens = await w.redeem(level2, b.verifier);
    assert.equal(tokens.claims()?.acr, ACR[2]);
    const account = await second.open(w.server.url('/account'));
    assert.match(account.html, /To add or remove a second factor, confirm it is you/);
    const csrf = findForm(account.html, /^\/account\/(reauth|totp\/remove)$/).hidden._csrf!;

    const intruder = new SoftAuthenticator({ origin: w.server.issuer });
    const options = await second.request(w.server.url('/account/webauthn/options'), {
      form: { _csrf: csrf },
    });
    assert.equal(options.status, 403, 'no registration options for a level-2 session');
    assert.deepEqual(JSON.parse(options.html), {
      error: 'login_required',
      error_description:
        'Sign in again with your strongest second factor to change how you sign in.',
    });
    // A registration posted anyway is refused before it is looked at.
    const forged = intruder.register(w.forgedOptions('bob'));
    const post = await second.request(w.server.url('/account/webauthn'), {
      form: { _csrf: csrf, response: JSON.stringify(forged), name: 'Intruder key' },
    });
    assert.equal(post.status, 303);
    assert.equal(post.location, w.server.url('/account?notice=reauth'));
    assert.equal((await w.credentialsOf('bob')).length, 1, 'no credential added');
    const refusals = await w.events('mfa.change_refused', 'bob');
    assert.deepEqual(
      refusals.map((e) => e.details),
      Array(2).fill({
        change: 'add',
        method: 'webauthn',
        during: 'account',
        reason: 'weaker_sign_in',
        level: 2,
        required: 3,
      }),
    );
    assert.ok(refusals.every((e) => e.outcome === 'failure'));

    // Signing in again with the passkey (level 3) allows it.
    const reauth = await second.submit(account, /\/account\/reauth$/, {});
    const factorPage = await w.password(second, reauth, 'bob');
    assert.match(factorPage.html, /<h1>Confirm it is you<\/h1>/);
    const { result: back } = await webauthnCeremony(second, factorPage, 'authenticate', (o) =>
      w.soft.bob!.authenticate(o),
    );
    assert.match(back!.html, /<h1>Your account<\/h1>/);
    assert.doesNotMatch(back!.html, /To add or remove a second factor/);
    const enrolPage = await second.open(w.server.url('/account/webauthn'));
    const { result: accepted } = await webauthnCeremony(
      second,
      enrolPage,
      'register',
      (o) => intruder.register(o),
      { name: 'Bob phone' },
    );
    assert.equal(accepted!.url, w.server.url('/account?notice=factor-added'));
    assert.deepEqual((await w.credentialsOf('bob')).map((c) => c.name).sort(), [
      'Bob laptop',
      'Bob phone',
    ]);
  });
});
