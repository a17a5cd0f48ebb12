// The absolute session limit is measured with the injected clock: however often a session is
// used, it ends SESSION_ABSOLUTE_SECONDS after sign-in.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../../src/clock.ts';
import { authorizationUrl, HttpBrowser, loginForCode, pkce } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { LEDGER, LEDGER_REDIRECT, type Ledger, seedLedger } from './ledger.ts';

const ABSOLUTE = 3600;

describe('session lifetime', () => {
  const clock = manualClock(Date.now());
  let server: TestServer;
  let ledger: Ledger;

  before(async () => {
    server = await startTestServer({
      clock,
      env: { SESSION_IDLE_SECONDS: String(ABSOLUTE), SESSION_ABSOLUTE_SECONDS: String(ABSOLUTE) },
    });
    ledger = await seedLedger(server);
  });
  after(() => server.close());

  const authorize = (browser: HttpBrowser) =>
    loginForCode(browser, {
      issuer: server.issuer,
      clientId: ledger.app.id,
      redirectUri: LEDGER_REDIRECT,
      scope: 'openid ledger:read',
      resource: LEDGER,
      email: ledger.person.email,
      password: PASSWORD,
    });

  /** Where an authorization request ends with this browser's cookies, without signing in. */
  const open = (browser: HttpBrowser) =>
    browser.open(
      authorizationUrl({
        issuer: server.issuer,
        clientId: ledger.app.id,
        redirectUri: LEDGER_REDIRECT,
        scope: 'openid ledger:read',
        resource: LEDGER,
        challenge: pkce().challenge,
        state: 'st',
      }),
      server.issuer,
    );

  const sessionExpiry = async () => {
    const row = await server.db
      .knex('oidc_artifacts')
      .where({ model: 'Session', account_id: ledger.person.id })
      .first('expires_at');
    return row ? new Date(row.expires_at).getTime() : undefined;
  };

  test('a session used again and again still ends at the absolute limit after sign-in', async () => {
    const browser = new HttpBrowser();
    const signedInAt = clock.now();
    assert.ok((await authorize(browser)).code, 'signed in');
    assert.equal(
      await sessionExpiry(),
      signedInAt + ABSOLUTE * 1000,
      'at sign-in the session ends an hour later on the injected clock',
    );

    // Used 50 minutes later: still signed in (no password asked), and the session still ends an
    // hour after sign-in, not an hour after this use.
    clock.advance(3000_000);
    const again = await open(browser);
    assert.match(again.location ?? '', /^https:\/\/ledger-app\.example\/callback\?code=/);
    assert.equal(
      await sessionExpiry(),
      signedInAt + ABSOLUTE * 1000,
      'the absolute limit is counted from sign-in on the injected clock',
    );

    // Past the limit (and the clock tolerance), the sweep ends it: the password is asked again.
    clock.advance(700_000);
    await server.app.sweep();
    assert.equal(await sessionExpiry(), undefined, 'the session is gone');
    const later = await open(browser);
    assert.equal(later.location, undefined);
    assert.match(later.html, /autocomplete="current-password"/);
  });
});
