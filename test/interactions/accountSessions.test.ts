// The account page over HTTP: allowed applications with their scopes described (not raw names),
// the person's sessions with "sign out this device" (the session and the tokens bound to it end,
// audited), their own recent security activity, and "Confirm it is you" prefilled with why.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { HttpBrowser, loginForCode } from '../support/browserless.ts';
import { BANK_API, type Bank, PASSWORD, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('account page: sessions, activity, scope descriptions', () => {
  let server: TestServer;
  let bank: Bank;

  const signIn = async (browser: HttpBrowser, password = PASSWORD) =>
    loginForCode(browser, {
      issuer: server.issuer,
      clientId: bank.client.id,
      redirectUri: REDIRECT_URI,
      scope: 'openid email accounts:read',
      resource: BANK_API,
      email: 'alice@example.com',
      password,
    });

  /** The account page in `browser`, signing in to it first. */
  const accountPage = async (browser: HttpBrowser) => {
    const page = await browser.open(server.url('/account'));
    if (!page.html.includes('current-password')) return page;
    return browser.submit(page, /\/login$/, { email: 'alice@example.com', password: PASSWORD });
  };

  before(async () => {
    server = await startTestServer();
    bank = await seedBank(server);
  });
  after(() => server.close());

  test('lists sessions and activity; signing out another device ends it and its tokens', async () => {
    // A failed attempt, then a sign-in to the bank's app in a phone's browser.
    const phone = new HttpBrowser({ 'user-agent': 'Mozilla/5.0 (Linux; Android 14) Chrome/131.0' });
    const failed = await signIn(phone, 'not the password');
    assert.equal(failed.code, undefined);
    const { redirect, verifier } = await signIn(phone);
    const rp = await bank.rp();
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      redirect!,
      { pkceCodeVerifier: verifier, expectedState: redirect!.searchParams.get('state')! },
      { resource: BANK_API },
    );

    const laptop = new HttpBrowser({
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    });
    const page = await accountPage(laptop);
    assert.match(page.html, /<h1>Your account<\/h1>/);
    // Scopes as consent words them.
    assert.match(page.html, /<li title="accounts:read">See your accounts and balances<\/li>/);
    assert.match(page.html, /<li title="email">See your email address<\/li>/);
    assert.doesNotMatch(page.html, /<li>accounts:read<\/li>/);

    // Two sessions: this one first, then the phone's, used for the bank's app.
    const sessions = [...page.html.matchAll(/<tr data-session>([\s\S]*?)<\/tr>/g)].map(
      (m) => m[1]!,
    );
    assert.equal(sessions.length, 2);
    // Each with the device it signed in from, as its user agent named it at sign-in.
    assert.match(sessions[0]!, /<strong>This device<\/strong>: Firefox on Linux/);
    assert.match(sessions[1]!, /Another device: Chrome on Android/);
    assert.match(sessions[1]!, /Budget Planner/);
    assert.match(sessions[1]!, /Signed in [^<]*2\d{3}[^<]* \(with a password\)/);

    // Activity: newest first, the person's own, with the device described, never the raw agent.
    const activity = [
      ...page.html.matchAll(/<tr data-activity( class="failed")?>([\s\S]*?)<\/tr>/g),
    ];
    const what = activity.map((m) => /<td>[^<]*<\/td>\s*<td>([^<]*)<\/td>/.exec(m[2]!)![1]);
    assert.deepEqual(what, ['Signed in', 'Signed in', 'Failed sign-in attempt']);
    assert.equal(activity[2]![1], ' class="failed"');
    assert.match(activity[2]![2]!, /<td>Chrome on Android<\/td>/);
    assert.match(activity[0]![2]!, /<td>Firefox on Linux<\/td>/);
    assert.doesNotMatch(page.html, /Gecko\/20100101/);

    // Without the page's CSRF token nothing ends.
    const phoneUid = /action="\/account\/sessions\/([^"]+)\/end"/g;
    const uids = [...page.html.matchAll(phoneUid)].map((m) => decodeURIComponent(m[1]!));
    const forged = await laptop.request(server.url(`/account/sessions/${uids[1]}/end`), {
      form: { _csrf: 'forged' },
    });
    assert.equal(forged.status, 403);
    assert.match(forged.html, /This form has expired or did not come from this site\./);

    // Sign out the phone: its session goes, and the refresh token bound to it stops working.
    const done = await laptop.submit(
      page,
      new RegExp(`/account/sessions/${encodeURIComponent(uids[1]!)}/end$`),
      {},
    );
    assert.match(done.html, /Signed out: that device must sign in again\./);
    assert.equal([...done.html.matchAll(/<tr data-session>/g)].length, 1);
    await assert.rejects(oidc.refreshTokenGrant(rp, tokens.refresh_token!), {
      error: 'invalid_grant',
    });
    const { events } = await server.app.services.audit.query({ action: 'logout.success' });
    assert.deepEqual(
      events.map((e) => e.details),
      [{ everywhere: false, device: 'other' }],
    );
    assert.match(done.html, /<td>Device signed out<\/td>/);
    // The phone must sign in again (its app access stays: the grant was not revoked).
    const again = await phone.open(
      `${server.issuer}/auth?${new URLSearchParams({ client_id: bank.client.id, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`,
      server.issuer,
    );
    assert.match(again.html, /autocomplete="current-password"/);
  });
});
