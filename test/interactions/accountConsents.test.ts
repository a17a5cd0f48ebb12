// The account page's consents: a person sees the payments and account access they authorised in
// the words of the consent page, and revokes an authorised one (its grant and refresh token go);
// a forged form, someone else's consent or one no longer active changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PAYMENT, seedConsentWorld } from '../consents/world.ts';
import { HttpBrowser, type Page } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('account page: consents', () => {
  let server: TestServer;
  let w: Awaited<ReturnType<typeof seedConsentWorld>>;

  before(async () => {
    server = await startTestServer();
    w = await seedConsentWorld(server);
  });
  after(() => server.close());

  async function signIn(browser: HttpBrowser, email = 'alice@example.com'): Promise<Page> {
    const page = await browser.open(server.url('/account'));
    return browser.submit(page, /\/login$/, { email, password: PASSWORD });
  }

  // Ninety days from now (account access may last at most 180), at noon UTC.
  const UNTIL = new Date(Math.floor(Date.now() / 86400_000 + 90) * 86400_000 + 12 * 3600_000);
  const ACCESS = () => ({
    type: 'account_information',
    accounts: [{ iban: 'GB33BUKB20201555555555' }],
    access: ['balances', 'transactions'],
    expirationDateTime: UNTIL.toISOString(),
  });

  /** The table row of a consent on the account page. */
  const rowOf = (page: Page, id: string) =>
    new RegExp(`<tr data-consent="${id}">([\\s\\S]*?)</tr>`).exec(page.html)?.[1];

  test('shows payments and account access in words, with revoke only for authorised ones', async () => {
    const { consents } = server.app.services;
    const payment = await w.authorised();
    const access = await w.authorised([ACCESS()]);
    const paid = await w.authorised();
    await consents.consume(paid.id, 'payment-engine');
    const browser = new HttpBrowser({ 'accept-language': 'en-GB' });
    const page = await signIn(browser);
    assert.equal(page.status, 200);
    assert.match(page.html, /Payments and account access you have authorised/);

    const p = rowOf(page, payment.id)!;
    assert.match(p, /Budget Planner/);
    assert.match(
      p,
      /Payment of €1,250\.00 to ACME GmbH \(DE89 •••• 3000\), reference “Invoice 2026-117”/,
    );
    assert.match(p, /<td>Active<\/td>/);
    assert.match(p, new RegExp(`action="/account/consents/${payment.id}/revoke"`));

    const a = rowOf(page, access.id)!;
    const until = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(
      UNTIL,
    );
    assert.ok(a.includes(`See the balances and transactions of GB33 •••• 5555 until ${until}`), a);
    assert.match(a, /action="\/account\/consents\/[^"]+\/revoke"/);

    const done = rowOf(page, paid.id)!;
    assert.match(done, /<td>Paid<\/td>/);
    assert.doesNotMatch(done, /revoke/);
  });

  test('revoking ends the consent, its grant and refresh token, and is audited', async () => {
    const { consents, artifacts, audit } = server.app.services;
    const c = await w.authorised([ACCESS()]);
    const base = {
      sessionUid: null,
      userCode: null,
      accountId: w.alice.id,
      clientId: w.app.clientId,
      expiresAt: new Date(Date.now() + 3600_000),
    };
    await artifacts.upsert({
      ...base,
      model: 'Grant',
      key: c.grantId!,
      grantId: c.grantId!,
      payload: {},
    });
    await artifacts.upsert({
      ...base,
      model: 'RefreshToken',
      key: `rt-${c.grantId}`,
      grantId: c.grantId!,
      payload: {},
    });
    const browser = new HttpBrowser();
    const page = await signIn(browser);
    const done = await browser.submit(page, new RegExp(`/account/consents/${c.id}/revoke$`), {});
    assert.equal(done.status, 200);
    assert.match(done.html, /Consent revoked: the application can no longer use it\./);
    assert.match(rowOf(done, c.id)!, /<td>Revoked<\/td>/);
    const after = await consents.find(c.id);
    assert.equal(after?.status, 'revoked');
    assert.equal(after?.revokedBy, `user:${w.alice.id}`);
    assert.equal(await artifacts.find('RefreshToken', `rt-${c.grantId}`), undefined);
    assert.equal(await artifacts.find('Grant', c.grantId!), undefined);
    const event = (await audit.query({ action: 'consent.revoked', targetId: c.id })).events;
    assert.equal(event.length, 1);
    assert.deepEqual(event[0]!.actor, { type: 'user', id: w.alice.id });
    assert.deepEqual(event[0]!.details, {
      types: ['account_information'],
      grants: 1,
      tokens: 2,
    });
  });

  test('a forged form, another person’s consent or a consumed one: nothing changes', async () => {
    const { consents } = server.app.services;
    const mine = await w.authorised();
    const bobs = await w.authorised([PAYMENT], w.bob.id);
    const browser = new HttpBrowser();
    const page = await signIn(browser);

    const forged = await browser.request(server.url(`/account/consents/${mine.id}/revoke`), {
      form: { _csrf: 'forged' },
    });
    assert.equal(forged.status, 403);
    assert.match(forged.html, /This form has expired or did not come from this site/);
    assert.deepEqual(await consents.find(mine.id), mine);

    // Alice's own CSRF token, Bob's consent id.
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.html)![1]!;
    const other = await browser.request(server.url(`/account/consents/${bobs.id}/revoke`), {
      form: { _csrf: csrf },
    });
    assert.equal(other.status, 404);
    assert.match(other.html, /There is no such consent on your account\./);
    assert.deepEqual(await consents.find(bobs.id), bobs);

    const consumed = await consents.consume(mine.id, 'payment-engine');
    const late = await browser.request(server.url(`/account/consents/${mine.id}/revoke`), {
      form: { _csrf: csrf },
    });
    assert.equal(late.status, 303);
    assert.equal(late.location, server.url('/account?notice=consent-inactive'));
    assert.deepEqual(await consents.find(mine.id), consumed);
  });
});
