// Consent once given is remembered: a new browser session of the same person for the same client
// and scopes goes straight back to the client; prompt=consent, more scopes, or a revocation on
// the account page ask again.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { authorizationUrl, HttpBrowser, type Page, pkce } from '../support/browserless.ts';
import { BANK_API, type Bank, PASSWORD, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('remembered consent', () => {
  let server: TestServer;
  let bank: Bank;

  /** Opens an authorization request in `browser` and signs in; returns the page after the password. */
  async function signIn(browser: HttpBrowser, scope: string, extra: Record<string, string> = {}) {
    const { challenge } = pkce();
    const url = authorizationUrl({
      issuer: server.issuer,
      clientId: bank.client.id,
      redirectUri: REDIRECT_URI,
      scope,
      resource: BANK_API,
      challenge,
      state: randomBytes(8).toString('hex'),
      extra,
    });
    const login = await browser.open(url, server.issuer);
    assert.match(login.html, /autocomplete="current-password"/, 'a fresh browser signs in');
    return browser.submit(
      login,
      /\/login$/,
      { email: 'alice@example.com', password: PASSWORD },
      server.issuer,
    );
  }

  const isConsent = (page: Page) => /<h1>Allow Budget Planner access\?<\/h1>/.test(page.html);
  const backAtClient = (page: Page) => {
    assert.ok(page.location?.startsWith(REDIRECT_URI), `redirected to the client: ${page.html}`);
    assert.ok(new URL(page.location!).searchParams.get('code'), 'with a code');
  };
  const approve = (page: Page) =>
    page.html.includes('/consent"') ? page : assert.fail(`no consent page: ${page.html}`);

  before(async () => {
    server = await startTestServer();
    bank = await seedBank(server);
  });
  after(() => server.close());

  test('is asked once, not again in a new browser session, and again after revocation', async () => {
    const first = new HttpBrowser();
    const consent = await signIn(first, 'openid email accounts:read');
    assert.ok(isConsent(consent), 'the first sign-in asks');
    backAtClient(await first.submit(approve(consent), /\/consent$/, { decision: 'approve' }));

    // A new browser (fresh cookie jar): the same request goes straight back to the client.
    backAtClient(await signIn(new HttpBrowser(), 'openid email accounts:read'));
    // Fewer scopes are within the grant too.
    backAtClient(await signIn(new HttpBrowser(), 'openid accounts:read'));
    // Each session holds its own copy of what was given (a logout of one revokes only its own),
    // with exactly the permissions of the first.
    const copies = await server.app.services.grants.list(bank.alice.id);
    assert.equal(copies.length, 3);
    assert.equal(new Set(copies.map((g) => g.grantId)).size, 3);
    for (const g of copies) {
      assert.deepEqual([...g.oidcScopes].sort(), [...copies[0]!.oidcScopes].sort());
      assert.deepEqual(g.resources, copies[0]!.resources);
    }

    // A scope not yet granted is asked for, and only it.
    const more = await signIn(new HttpBrowser(), 'openid email profile accounts:read');
    assert.ok(isConsent(more), 'profile was never granted');
    assert.match(more.html, /See your name/);
    assert.doesNotMatch(more.html, /See your email address/);

    // The client may always ask again.
    const asked = await signIn(new HttpBrowser(), 'openid email accounts:read', {
      prompt: 'consent',
    });
    assert.ok(isConsent(asked), 'prompt=consent asks');
    assert.match(asked.html, /See your accounts and balances <code>accounts:read<\/code>/);

    // Revoked on the account page: the next new session asks again.
    const account = await first.open(server.url('/account'));
    const revoked = await first.submit(
      account,
      new RegExp(`/account/clients/${bank.client.id}/revoke$`),
      {},
    );
    assert.match(revoked.html, /Access revoked/);
    assert.ok(
      isConsent(await signIn(new HttpBrowser(), 'openid email accounts:read')),
      'asked again after the revocation',
    );
  });
});
