// Second factors over HTTP: TOTP enrolment inside a login, single-use codes (also in parallel),
// wrong codes and the lockout, recovery codes, step-up by scope level, acr requests, the token
// endpoint's level check, factor changes needing a recent strong sign-in, and no secret at rest.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import { manualClock } from '../../src/clock.ts';
import { authorizationUrl, HttpBrowser, type Page, pkce } from '../support/browserless.ts';
import { BANK_API, PASSWORD, REDIRECT_URI } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const LEDGER_API = 'https://ledger.api.example';
const ACR = {
  1: 'urn:portcullis:ac:password',
  2: 'urn:portcullis:ac:mfa',
  3: 'urn:portcullis:ac:phishing-resistant',
};

describe('second factors', () => {
  const clock = manualClock(Date.UTC(2026, 10, 29, 12, 0, 0));
  const logs: string[] = [];
  let server: TestServer;
  let client: { id: string; secret: string };
  let rp: oidc.Configuration;
  const secrets: string[] = [];
  const totpCode = (secret: string, offsetSteps = 0) =>
    generateSync({ secret, epoch: Math.floor(clock.now() / 1000) + offsetSteps * 30 });

  before(async () => {
    server = await startTestServer({ clock, logs });
    const { catalogue, clients, accounts, roles } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      scopes: [
        { name: 'accounts:read', description: 'See your accounts', requiredLevel: 1 },
        { name: 'payments:write', description: 'Make payments', requiredLevel: 2 },
      ],
    });
    await catalogue.create({
      identifier: LEDGER_API,
      name: 'Ledger',
      tokenFormat: 'opaque',
      scopes: [{ name: 'ledger:read', description: 'Read the ledger' }],
    });
    await roles.create({
      name: 'customer',
      scopes: ['accounts:read', 'payments:write', 'ledger:read'],
    });
    for (const email of ['alice@example.com', 'bob@example.com', 'carol@example.com']) {
      await accounts.create({ email, password: PASSWORD, roles: ['customer'] });
    }
    const created = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [REDIRECT_URI],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read', 'payments:write'], [LEDGER_API]: ['ledger:read'] },
      firstParty: true,
    });
    client = { id: created.client.clientId, secret: created.secret! };
    rp = await oidc.discovery(
      new URL(server.issuer),
      client.id,
      { redirect_uris: [REDIRECT_URI] },
      oidc.ClientSecretBasic(client.secret),
      {
        execute: [oidc.allowInsecureRequests],
      },
    );
  });
  after(() => server.close());

  async function authorize(
    browser: HttpBrowser,
    scope: string,
    extra: Record<string, string> = {},
  ) {
    const { verifier, challenge } = pkce();
    const page = await browser.open(
      authorizationUrl({
        issuer: server.issuer,
        clientId: client.id,
        redirectUri: REDIRECT_URI,
        scope: `openid ${scope}`,
        resource: BANK_API,
        challenge,
        state: 'st',
        extra,
      }),
      server.issuer,
    );
    return { page, verifier };
  }
  const password = (browser: HttpBrowser, page: Page, email: string) =>
    browser.submit(page, /\/login$/, { email, password: PASSWORD }, server.issuer);
  const codeOf = (page: Page) =>
    page.location ? new URL(page.location).searchParams.get('code') : null;
  const errorShown = (page: Page) =>
    /role="alert" id="error">([^<]*)</.exec(page.html)?.[1]?.replace(/&#39;/g, "'");

  async function redeem(page: Page, verifier: string) {
    return oidc.authorizationCodeGrant(
      rp,
      new URL(page.location!),
      { pkceCodeVerifier: verifier, expectedState: 'st' },
      { resource: BANK_API },
    );
  }

  /** Enrols TOTP inside a login that needs level 2, then uses it; returns the seed and codes. */
  async function enrolTotp(email: string) {
    const browser = new HttpBrowser();
    const { page, verifier } = await authorize(browser, 'payments:write');
    const enrol = await password(browser, page, email);
    assert.match(enrol.html, /<h1>Add a second factor<\/h1>/);
    assert.match(
      enrol.html,
      /<img src="data:image\/png;base64,/,
      'a QR code rendered on the server',
    );
    const secret = /value="([A-Z2-7]+)" data-totp-secret/.exec(enrol.html)?.[1] ?? '';
    assert.match(secret, /^[A-Z2-7]{32}$/);
    secrets.push(secret);
    const wrong = await browser.submit(enrol, /\/enrol\/totp$/, { code: '000000' }, server.issuer);
    assert.equal(
      errorShown(wrong),
      'That code is not right. Check the time on your phone and try the next code.',
    );
    assert.ok(wrong.html.includes(secret), 'the same enrolment is offered again');
    const codes = await browser.submit(
      wrong,
      /\/enrol\/totp$/,
      { code: totpCode(secret) },
      server.issuer,
    );
    const recovery = [...codes.html.matchAll(/<li><code>([0-9A-Z-]{29})<\/code><\/li>/g)].map(
      (m) => m[1]!,
    );
    assert.equal(recovery.length, 10);
    secrets.push(...recovery);
    // Adding the app proved nothing: the login asks for its next code (the first one was used).
    const ask = await browser.submit(codes, /\/continue$/, {}, server.issuer);
    assert.match(ask.html, /<h1>Confirm it is you<\/h1>/);
    assert.match(ask.html, /enter the next code it shows: the code you typed was used to add it/);
    clock.advance(30_000);
    const done = await browser.submit(ask, /\/totp$/, { code: totpCode(secret) }, server.issuer);
    return { secret, recovery, done, verifier, browser };
  }

  test('a level-2 scope makes a person without a second factor enrol one; the token carries the scope at level 2', async () => {
    const { done, verifier } = await enrolTotp('alice@example.com');
    const tokens = await redeem(done, verifier);
    assert.equal(tokens.scope, 'payments:write');
    const id = tokens.claims()!;
    assert.equal(id.acr, ACR[2]);
    assert.deepEqual((id.amr as string[]).sort(), ['mfa', 'otp', 'pwd']);
    assert.equal(typeof id.auth_time, 'number');
    const at = decodeJwt(tokens.access_token);
    assert.equal(at.acr, ACR[2]);
    assert.deepEqual((at.amr as string[]).sort(), ['mfa', 'otp', 'pwd']);
  });

  test('discovery lists the acr values; introspection carries acr, amr and auth_time', async () => {
    assert.deepEqual(rp.serverMetadata().acr_values_supported, [ACR[1], ACR[2], ACR[3]]);
    const browser = new HttpBrowser();
    const { verifier, challenge } = pkce();
    const page = await browser.open(
      authorizationUrl({
        issuer: server.issuer,
        clientId: client.id,
        redirectUri: REDIRECT_URI,
        scope: 'openid ledger:read',
        resource: LEDGER_API,
        challenge,
        state: 'st',
      }),
      server.issuer,
    );
    const done = await password(browser, page, 'alice@example.com');
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      new URL(done.location!),
      { pkceCodeVerifier: verifier, expectedState: 'st' },
      { resource: LEDGER_API },
    );
    const info = await oidc.tokenIntrospection(rp, tokens.access_token);
    assert.equal(info.active, true);
    assert.equal(info.acr, ACR[1]);
    assert.deepEqual(info.amr, ['pwd']);
    assert.equal(info.auth_time, tokens.claims()?.auth_time);
  });

  test('password + TOTP; a code is accepted once, the next time step works', async () => {
    const { secret } = await enrolTotp('bob@example.com');
    clock.advance(30_000);
    const first = new HttpBrowser();
    const a = await authorize(first, 'payments:write');
    const ask = await password(first, a.page, 'bob@example.com');
    assert.match(ask.html, /autocomplete="one-time-code"/);
    assert.match(ask.html, /inputmode="numeric"/);
    const code = totpCode(secret);
    const ok = await first.submit(ask, /\/totp$/, { code }, server.issuer);
    assert.ok(codeOf(ok), 'signed in');

    const second = new HttpBrowser();
    const b = await authorize(second, 'payments:write');
    const ask2 = await password(second, b.page, 'bob@example.com');
    const replay = await second.submit(ask2, /\/totp$/, { code }, server.issuer);
    assert.equal(replay.status, 401);
    assert.equal(errorShown(replay), 'That code was already used. Wait for the next one.');
    clock.advance(30_000);
    assert.ok(
      codeOf(await second.submit(replay, /\/totp$/, { code: totpCode(secret) }, server.issuer)),
    );
  });

  test('two parallel submissions of one code: exactly one succeeds', async () => {
    const { secret } = await enrolTotp('carol@example.com');
    clock.advance(30_000);
    const pages = await Promise.all(
      [new HttpBrowser(), new HttpBrowser()].map(async (b) => {
        const { page } = await authorize(b, 'payments:write');
        return { b, ask: await password(b, page, 'carol@example.com') };
      }),
    );
    const code = totpCode(secret);
    const results = await Promise.all(
      pages.map(({ b, ask }) => b.submit(ask, /\/totp$/, { code }, server.issuer)),
    );
    assert.equal(results.filter((r) => codeOf(r)).length, 1);
    assert.equal(
      results.filter((r) => errorShown(r) === 'That code was already used. Wait for the next one.')
        .length,
      1,
    );
  });

  test('a recovery code signs in at level 2 once; the same code fails the second time', async () => {
    const { accounts } = server.app.services;
    await accounts.create({ email: 'dave@example.com', password: PASSWORD, roles: ['customer'] });
    const { recovery } = await enrolTotp('dave@example.com');
    const browser = new HttpBrowser();
    const { page, verifier } = await authorize(browser, 'payments:write');
    const ask = await password(browser, page, 'dave@example.com');
    const ok = await browser.submit(
      ask,
      /\/recovery$/,
      { code: recovery[3]!.toLowerCase() },
      server.issuer,
    );
    const tokens = await redeem(ok, verifier);
    assert.equal(tokens.claims()?.acr, ACR[2]);

    const again = new HttpBrowser();
    const second = await authorize(again, 'payments:write');
    const ask2 = await password(again, second.page, 'dave@example.com');
    const refused = await again.submit(ask2, /\/recovery$/, { code: recovery[3]! }, server.issuer);
    assert.equal(errorShown(refused), 'That recovery code is not right, or was already used.');
    assert.equal(
      await server.app.services.recoveryCodes.remaining(
        (await accounts.get('dave@example.com'))!.id,
      ),
      9,
    );
  });

  test('wrong codes count towards the account lockout', async () => {
    const { accounts } = server.app.services;
    await accounts.create({ email: 'erin@example.com', password: PASSWORD, roles: ['customer'] });
    const { secret } = await enrolTotp('erin@example.com');
    clock.advance(30_000);
    const browser = new HttpBrowser();
    const { page } = await authorize(browser, 'payments:write');
    let step = await password(browser, page, 'erin@example.com');
    for (let i = 0; i < 5; i++)
      step = await browser.submit(step, /\/totp$/, { code: `12345${i}` }, server.issuer);
    const locked = await browser.submit(step, /\/totp$/, { code: totpCode(secret) }, server.issuer);
    assert.equal(locked.status, 429);
    assert.equal(errorShown(locked), 'Too many attempts. Wait a while and try again.');
    assert.ok((await accounts.lockState('erin@example.com')).lockedUntil);
  });

  test('step-up: a level-1 session asking for a level-2 scope is asked for the second factor only', async () => {
    const browser = new HttpBrowser();
    const low = await authorize(browser, 'accounts:read');
    const signedIn = await password(browser, low.page, 'alice@example.com');
    const lowTokens = await redeem(signedIn, low.verifier);
    assert.equal(
      lowTokens.claims()?.acr,
      ACR[1],
      'a level-1 request does not ask for the second factor',
    );
    assert.equal(lowTokens.scope, 'accounts:read');

    clock.advance(30_000);
    const high = await authorize(browser, 'payments:write');
    assert.doesNotMatch(
      high.page.html,
      /autocomplete="current-password"/,
      'no password asked again',
    );
    assert.match(high.page.html, /this needs a stronger sign-in/);
    const secret = secrets[0]!;
    const done = await browser.submit(
      high.page,
      /\/totp$/,
      { code: totpCode(secret) },
      server.issuer,
    );
    const tokens = await redeem(done, high.verifier);
    assert.equal(tokens.scope, 'payments:write');
    assert.equal(tokens.claims()?.acr, ACR[2]);
    assert.equal(tokens.claims()?.sub, lowTokens.claims()?.sub);
  });

  test('acr_values asks for a level; an essential acr Portcullis does not offer ends with an error, not a loop', async () => {
    clock.advance(30_000);
    const browser = new HttpBrowser();
    const { page, verifier } = await authorize(browser, 'accounts:read', { acr_values: ACR[2] });
    const ask = await password(browser, page, 'alice@example.com');
    const done = await browser.submit(
      ask,
      /\/totp$/,
      { code: totpCode(secrets[0]!) },
      server.issuer,
    );
    assert.equal((await redeem(done, verifier)).claims()?.acr, ACR[2]);

    const other = new HttpBrowser();
    const claims = JSON.stringify({
      id_token: { acr: { essential: true, values: ['urn:example:unknown'] } },
    });
    const refused = await authorize(other, 'accounts:read', { claims });
    const target = new URL(refused.page.location!);
    assert.equal(target.origin + target.pathname, REDIRECT_URI);
    assert.equal(target.searchParams.get('error'), 'unmet_authentication_requirements');
  });

  test('the token endpoint never issues a scope above the level the grant was reached at, even if tampered with', async () => {
    const browser = new HttpBrowser();
    const { page, verifier } = await authorize(browser, 'accounts:read', { prompt: 'login' });
    const signedIn = await password(browser, page, 'bob@example.com');
    // Someone with database access adds payments:write to the code and to the grant.
    const code = codeOf(signedIn)!;
    const { hashId } = await import('../../src/oidc/adapter.ts');
    const row = await server.db
      .knex('oidc_artifacts')
      .where({ model: 'AuthorizationCode', id: hashId(code) })
      .first();
    assert.equal(row.payload.acr, ACR[1]);
    await server.db
      .knex('oidc_artifacts')
      .where({ model: 'AuthorizationCode', id: hashId(code) })
      .update({
        payload: JSON.stringify({ ...row.payload, scope: 'openid accounts:read payments:write' }),
      });
    const grant = await server.db
      .knex('oidc_artifacts')
      .where({ model: 'Grant', id: row.grant_id })
      .first();
    await server.db
      .knex('oidc_artifacts')
      .where({ model: 'Grant', id: row.grant_id })
      .update({
        payload: JSON.stringify({
          ...grant.payload,
          resources: { [BANK_API]: 'accounts:read payments:write' },
        }),
      });
    const tokens = await redeem(signedIn, verifier);
    assert.equal(tokens.scope, 'accounts:read');
    assert.equal(decodeJwt(tokens.access_token).scope, 'accounts:read');
  });

  test('no TOTP seed, recovery code or WebAuthn challenge is stored or logged in clear', async () => {
    const browser = new HttpBrowser();
    const { page } = await authorize(browser, 'accounts:read');
    const csrf =
      /name="_csrf" value="([^"]+)"/.exec(page.html.slice(page.html.indexOf('/passkey"')))?.[1] ??
      '';
    const action = /action="(\/interaction\/[^"]+)\/passkey"/.exec(page.html)![1]!;
    const options = await fetch(server.url(`${action}/passkey/options`), {
      method: 'POST',
      headers: {
        cookie: browser.jar.header(server.url(action)),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ _csrf: csrf }),
    });
    const { challenge } = (await options.json()) as { challenge: string };
    assert.ok(challenge.length >= 43, 'at least 256 bits');
    secrets.push(challenge);

    const tables = (
      await server.db.knex.raw(
        'select tablename from pg_tables where schemaname = current_schema()',
      )
    ).rows as { tablename: string }[];
    let dump = '';
    for (const { tablename } of tables) {
      dump += JSON.stringify(await server.db.knex(tablename).select('*'));
    }
    const normalized = (s: string) => s.replace(/-/g, '');
    for (const secret of secrets) {
      assert.ok(
        !dump.includes(secret) && !normalized(dump).includes(normalized(secret)),
        `${secret.slice(0, 6)}… is not in the database`,
      );
      assert.ok(
        !logs.some((line) => line.includes(secret)),
        `${secret.slice(0, 6)}… is not in the logs`,
      );
    }
    assert.ok(logs.length > 50, 'the logs were captured');
  });
});
