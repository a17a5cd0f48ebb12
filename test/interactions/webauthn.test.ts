// WebAuthn over HTTP with a software authenticator: a passkey enrolled during a login does not
// raise it (the login then asks to use it), adding a key needs a sign-in with the strongest
// factor held, passkey sign-in and its refusals (counter replayed or rolled back, another
// account's userHandle), and registration errors shown as clear messages, never as their text.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { generateSecret, generateSync } from 'otplib';
import { manualClock } from '../../src/clock.ts';
import { PASSKEY_ERROR } from '../../src/interactions/login.ts';
import {
  authorizationUrl,
  findForm,
  HttpBrowser,
  type Page,
  pkce,
} from '../support/browserless.ts';
import { BANK_API, PASSWORD, REDIRECT_URI } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { SoftAuthenticator, webauthnCeremony } from '../support/softAuthenticator.ts';

const ACR = {
  1: 'urn:portcullis:ac:password',
  2: 'urn:portcullis:ac:mfa',
  3: 'urn:portcullis:ac:phishing-resistant',
};
const STRONGEST_FIRST = 'Sign in with your strongest second factor before adding another.';
const ALREADY_REGISTERED =
  'This security key or passkey is already registered. Use it to sign in, or add a different one.';

const shown = (page: Page) =>
  /role="alert"(?: id="error")?>([^<]*)</.exec(page.html)?.[1]?.replace(/&#39;/g, "'");

describe('WebAuthn with a software authenticator', () => {
  const clock = manualClock(Date.UTC(2026, 11, 1, 14, 0, 0));
  const logs: string[] = [];
  let server: TestServer;
  let rp: oidc.Configuration;
  let clientId = '';
  const people: Record<string, { id: string; email: string; secret: string }> = {};
  const soft: Record<string, SoftAuthenticator> = {};

  before(async () => {
    server = await startTestServer({ clock, hostname: 'localhost', logs });
    const { catalogue, clients, accounts, roles, totp } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      scopes: [
        { name: 'accounts:read', description: 'See your accounts', requiredLevel: 1 },
        { name: 'payments:write', description: 'Make payments', requiredLevel: 2 },
        { name: 'mandates:write', description: 'Set up mandates', requiredLevel: 3 },
      ],
    });
    await roles.create({
      name: 'customer',
      scopes: ['accounts:read', 'payments:write', 'mandates:write'],
    });
    // Everyone but carol has an authenticator app; carol has no second factor.
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) {
      const email = `${name}@example.com`;
      const user = await accounts.create({ email, password: PASSWORD, roles: ['customer'] });
      const secret = generateSecret();
      if (name !== 'carol') await totp.importConfirmed([{ userId: user.id, secret }]);
      people[name] = { id: user.id, email, secret };
      soft[name] = new SoftAuthenticator({ origin: server.issuer });
    }
    const created = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECT_URI],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read', 'payments:write', 'mandates:write'] },
      firstParty: true,
    });
    clientId = created.client.clientId;
    rp = await oidc.discovery(
      new URL(server.issuer),
      clientId,
      { redirect_uris: [REDIRECT_URI] },
      oidc.ClientSecretBasic(created.secret!),
      { execute: [oidc.allowInsecureRequests] },
    );
  });
  after(() => server.close());

  const totpCode = (name: string) =>
    generateSync({ secret: people[name]!.secret, epoch: Math.floor(clock.now() / 1000) });

  async function authorize(browser: HttpBrowser, scope: string) {
    const { verifier, challenge } = pkce();
    const page = await browser.open(
      authorizationUrl({
        issuer: server.issuer,
        clientId,
        redirectUri: REDIRECT_URI,
        scope: `openid ${scope}`,
        resource: BANK_API,
        challenge,
        state: 'st',
      }),
      server.issuer,
    );
    return { page, verifier };
  }
  const password = (browser: HttpBrowser, page: Page, name: string) =>
    browser.submit(page, /\/login$/, { email: people[name]!.email, password: PASSWORD });
  const totpStep = (browser: HttpBrowser, page: Page, name: string) =>
    browser.submit(page, /\/totp$/, { code: totpCode(name) });
  const redeem = (page: Page, verifier: string) =>
    oidc.authorizationCodeGrant(
      rp,
      new URL(page.location!),
      { pkceCodeVerifier: verifier, expectedState: 'st' },
      { resource: BANK_API },
    );
  /** Registration options Portcullis never issued (a made-up challenge). */
  const forgedOptions = (name: string) => ({
    rp: { id: 'localhost', name: 'Portcullis' },
    user: {
      id: Buffer.from(people[name]!.id).toString('base64url'),
      name: people[name]!.email,
      displayName: '',
    },
    challenge: Buffer.from('made up').toString('base64url'),
    pubKeyCredParams: [{ type: 'public-key' as const, alg: -7 }],
  });
  const credentialsOf = (name: string) =>
    server.db.knex('webauthn_credentials').where({ user_id: people[name]!.id }).select('*');
  async function events(action: string, name: string) {
    const { events } = await server.app.services.audit.query({
      action,
      targetType: 'user',
      targetId: people[name]!.id,
      limit: 500,
    });
    return events;
  }

  test('a passkey enrolled during a login does not raise it: the login then asks to use the passkey', async () => {
    const browser = new HttpBrowser();
    const { page, verifier } = await authorize(browser, 'mandates:write');
    const ask = await password(browser, page, 'alice');
    assert.match(ask.html, /autocomplete="one-time-code"/);
    const enrol = await totpStep(browser, ask, 'alice');
    assert.match(enrol.html, /<h1>Add a second factor<\/h1>/);
    assert.match(enrol.html, /needs a phishing-resistant sign-in/);

    const { result: afterEnrol } = await webauthnCeremony(
      browser,
      enrol,
      'register',
      (o) => soft.alice!.register(o),
      { name: 'Alice laptop' },
    );
    // The key is added (and recorded), but the login is not finished by it.
    assert.equal((await credentialsOf('alice')).length, 1);
    const [enrolled] = await events('mfa.enrolled', 'alice');
    assert.deepEqual(enrolled?.details, { method: 'webauthn', during: 'login', client: clientId });
    assert.equal(afterEnrol!.location, undefined, 'enrolling a passkey did not finish the login');
    assert.equal(afterEnrol!.status, 200);
    assert.match(afterEnrol!.html, /<h1>Confirm it is you<\/h1>/);
    assert.match(afterEnrol!.html, /Use your new security key or passkey to finish signing in/);
    assert.match(afterEnrol!.html, /data-webauthn="authenticate"/);
    assert.equal((await events('login.success', 'alice')).length, 0, 'no sign-in completed yet');

    // Using the passkey (an assertion) is what reaches level 3.
    const { result: done } = await webauthnCeremony(browser, afterEnrol!, 'authenticate', (o) =>
      soft.alice!.authenticate(o),
    );
    const tokens = await redeem(done!, verifier);
    assert.equal(tokens.scope, 'mandates:write');
    const claims = tokens.claims()!;
    assert.equal(claims.acr, ACR[3]);
    assert.deepEqual((claims.amr as string[]).sort(), ['hwk', 'mfa', 'otp', 'pwd', 'user']);
  });

  test('a key added elsewhere makes the open enrolment page of a level-2 login refuse another', async () => {
    // frank (authenticator app) opens two logins needing level 3, both at the enrolment page.
    const a = new HttpBrowser();
    const la = await authorize(a, 'mandates:write');
    const enrolA = await totpStep(a, await password(a, la.page, 'frank'), 'frank');
    assert.match(enrolA.html, /<h1>Add a second factor<\/h1>/);
    clock.advance(30_000);
    const b = new HttpBrowser();
    const lb = await authorize(b, 'mandates:write');
    const enrolB = await totpStep(b, await password(b, lb.page, 'frank'), 'frank');
    const { result: askB } = await webauthnCeremony(
      b,
      enrolB,
      'register',
      (o) => soft.frank!.register(o),
      { name: 'Frank key' },
    );
    assert.match(askB!.html, /<h1>Confirm it is you<\/h1>/);

    // frank now holds a passkey: login A, at level 2, may not add another key.
    const other = new SoftAuthenticator({ origin: server.issuer });
    const { options } = await webauthnCeremony(a, enrolA, 'register', (o) => other.register(o));
    assert.equal(options.status, 403, 'no registration options for a level-2 login');
    assert.deepEqual(JSON.parse(options.html), {
      error: 'access_denied',
      error_description: STRONGEST_FIRST,
    });
    const form = findForm(enrolA.html, /\/enrol\/webauthn$/);
    const post = await a.request(server.url(form.action), {
      form: {
        ...form.hidden,
        name: 'Second key',
        response: JSON.stringify(other.register(forgedOptions('frank'))),
      },
    });
    assert.equal(post.status, 403);
    assert.equal(shown(post), STRONGEST_FIRST);
    assert.deepEqual(
      (await credentialsOf('frank')).map((c) => c.name),
      ['Frank key'],
      'no credential added',
    );
    const refusals = await events('mfa.change_refused', 'frank');
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
          client: clientId,
        },
      ]),
    );
  });

  test('the account page refuses a new key from a level-2 session of a passkey holder, and accepts it after a level-3 sign-in', async () => {
    // bob (authenticator app) signs in with it and adds a first passkey from the account page.
    const first = new HttpBrowser();
    const a = await authorize(first, 'payments:write');
    const signedIn = await totpStep(first, await password(first, a.page, 'bob'), 'bob');
    assert.ok(signedIn.location?.startsWith(REDIRECT_URI));
    const addPage = await first.open(server.url('/account/webauthn'));
    const { result: added } = await webauthnCeremony(
      first,
      addPage,
      'register',
      (o) => soft.bob!.register(o),
      { name: 'Bob laptop' },
    );
    assert.equal(added!.url, server.url('/account?notice=factor-added'));
    assert.equal((await credentialsOf('bob')).length, 1);

    // Later, a sign-in with password and app code (level 2) in another browser.
    clock.advance(30_000);
    const second = new HttpBrowser();
    const b = await authorize(second, 'payments:write');
    const level2 = await totpStep(second, await password(second, b.page, 'bob'), 'bob');
    const tokens = await redeem(level2, b.verifier);
    assert.equal(tokens.claims()?.acr, ACR[2]);
    const account = await second.open(server.url('/account'));
    assert.match(account.html, /To add or remove a second factor, confirm it is you/);
    const csrf = findForm(account.html, /^\/account\/(reauth|totp\/remove)$/).hidden._csrf!;

    const intruder = new SoftAuthenticator({ origin: server.issuer });
    const options = await second.request(server.url('/account/webauthn/options'), {
      form: { _csrf: csrf },
    });
    assert.equal(options.status, 403, 'no registration options for a level-2 session');
    assert.deepEqual(JSON.parse(options.html), {
      error: 'login_required',
      error_description:
        'Sign in again with your strongest second factor to change how you sign in.',
    });
    // A registration posted anyway is refused before it is looked at.
    const forged = intruder.register(forgedOptions('bob'));
    const post = await second.request(server.url('/account/webauthn'), {
      form: { _csrf: csrf, response: JSON.stringify(forged), name: 'Intruder key' },
    });
    assert.equal(post.status, 303);
    assert.equal(post.location, server.url('/account?notice=reauth'));
    assert.equal((await credentialsOf('bob')).length, 1, 'no credential added');
    const refusals = await events('mfa.change_refused', 'bob');
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
    const factorPage = await password(second, reauth, 'bob');
    assert.match(factorPage.html, /<h1>Confirm it is you<\/h1>/);
    const { result: back } = await webauthnCeremony(second, factorPage, 'authenticate', (o) =>
      soft.bob!.authenticate(o),
    );
    assert.match(back!.html, /<h1>Your account<\/h1>/);
    assert.doesNotMatch(back!.html, /To add or remove a second factor/);
    const enrolPage = await second.open(server.url('/account/webauthn'));
    const { result: accepted } = await webauthnCeremony(
      second,
      enrolPage,
      'register',
      (o) => intruder.register(o),
      { name: 'Bob phone' },
    );
    assert.equal(accepted!.url, server.url('/account?notice=factor-added'));
    assert.deepEqual((await credentialsOf('bob')).map((c) => c.name).sort(), [
      'Bob laptop',
      'Bob phone',
    ]);
  });

  test('a passkey signs in without a password at level 3; a replayed or rolled-back counter and another userHandle are refused', async () => {
    // carol has no second factor: her first one is a passkey, added after the password alone.
    const setup = new HttpBrowser();
    const login = await setup.open(server.url('/account'));
    const account = await password(setup, login, 'carol');
    assert.match(account.html, /<h1>Your account<\/h1>/);
    const { result: codes } = await webauthnCeremony(
      setup,
      await setup.open(server.url('/account/webauthn')),
      'register',
      (o) => soft.carol!.register(o),
      { name: 'Carol key' },
    );
    assert.match(codes!.html, /Your recovery codes/);
    const [credential] = await credentialsOf('carol');

    const browser = new HttpBrowser();
    const { page, verifier } = await authorize(browser, 'accounts:read');
    const { result: done } = await webauthnCeremony(browser, page, 'authenticate', (o) =>
      soft.carol!.authenticate(o),
    );
    const claims = (await redeem(done!, verifier)).claims()!;
    assert.equal(claims.acr, ACR[3]);
    assert.deepEqual((claims.amr as string[]).sort(), ['hwk', 'mfa', 'user']);
    const counter = Number((await credentialsOf('carol'))[0]!.counter);
    assert.equal(counter, 1);

    const attempts: [string, { counter?: number; userHandle?: string }, string][] = [
      ['replayed counter', { counter }, 'counter_rollback'],
      ['rolled-back counter', { counter: counter - 1 }, 'counter_rollback'],
      [
        "alice's userHandle",
        { userHandle: Buffer.from(people.alice!.id).toString('base64url'), counter: 10 },
        'verification',
      ],
    ];
    for (const [what, opts, reason] of attempts) {
      const other = new HttpBrowser();
      const start = await authorize(other, 'accounts:read');
      const { result } = await webauthnCeremony(other, start.page, 'authenticate', (o) =>
        soft.carol!.authenticate(o, opts),
      );
      assert.equal(result!.status, 401, what);
      assert.equal(shown(result!), PASSKEY_ERROR, what);
      assert.equal(result!.location, undefined, `${what}: not signed in`);
      const failures = (
        await server.app.services.audit.query({ action: 'login.failure', limit: 500 })
      ).events;
      assert.equal(failures.at(-1)?.details.reason, reason, what);
    }
    assert.equal(Number((await credentialsOf('carol'))[0]!.counter), counter, 'counter kept');
    assert.equal(credential!.user_id, people.carol!.id);

    // The same credential registered again (an authenticator ignoring excludeCredentials):
    // a clear message, and nothing added.
    const again = await browser.open(server.url('/account/webauthn'));
    const { result: duplicate } = await webauthnCeremony(
      browser,
      again,
      'register',
      (o) => soft.carol!.register(o, { reuse: credential!.credential_id }),
      { name: 'Carol key again' },
    );
    assert.equal(shown(duplicate!), ALREADY_REGISTERED);
    assert.equal(duplicate!.status, 409);
    assert.equal((await credentialsOf('carol')).length, 1);
  });

  test('registering an already registered key during a login says so, without database text', async () => {
    const browser = new HttpBrowser();
    const { page } = await authorize(browser, 'mandates:write');
    const enrol = await totpStep(browser, await password(browser, page, 'dave'), 'dave');
    assert.match(enrol.html, /<h1>Add a second factor<\/h1>/);
    const carolKey = [...soft.carol!.credentials.keys()][0]!;
    const { result } = await webauthnCeremony(browser, enrol, 'register', (o) =>
      soft.carol!.register(o, { reuse: carolKey }),
    );
    assert.equal(shown(result!), ALREADY_REGISTERED);
    assert.equal(result!.status, 409);
    assert.doesNotMatch(result!.html, /insert into|duplicate key|constraint|webauthn_credentials/i);
    assert.equal((await credentialsOf('dave')).length, 0, 'nothing added');
    const [refused] = await events('mfa.change_refused', 'dave');
    assert.deepEqual(refused?.details, {
      change: 'add',
      method: 'webauthn',
      during: 'login',
      reason: 'already_registered',
      client: clientId,
    });
  });

  test('an unexpected error while registering shows the generic error page, not its text', async () => {
    const { knex } = server.db;
    await knex.raw(`create function refuse_credentials() returns trigger language plpgsql as $$
      begin raise exception 'internal detail: webauthn_credentials is read-only'; end $$`);
    await knex.raw(
      'create trigger refuse_credentials before insert on webauthn_credentials for each row execute function refuse_credentials()',
    );
    try {
      const browser = new HttpBrowser();
      const { page } = await authorize(browser, 'mandates:write');
      const enrol = await totpStep(browser, await password(browser, page, 'erin'), 'erin');
      const { result } = await webauthnCeremony(browser, enrol, 'register', (o) =>
        soft.erin!.register(o),
      );
      assert.equal(shown(result!), 'The server could not complete the request.');
      assert.equal(result!.status, 500);
      assert.doesNotMatch(result!.html, /internal detail|read-only|webauthn_credentials/);
      const line = logs.find((l) => l.includes('"msg":"request failed"'));
      assert.ok(line, 'the error is logged');
      assert.doesNotMatch(line, /"stack":"[^"]|\\n\s+at /, 'without a stack trace');
    } finally {
      await knex.raw('drop trigger refuse_credentials on webauthn_credentials');
      await knex.raw('drop function refuse_credentials()');
    }
    assert.equal((await credentialsOf('erin')).length, 0);
  });
});
