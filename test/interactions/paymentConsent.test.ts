// The consent page of authorization_details over HTTP, with a software authenticator: a payment
// authorised with an assertion over exactly that payment (even after a level-3 sign-in), and the
// refusals (the payment changed after the page, an assertion for another challenge, a person
// with an app code only, a refusal), each with what was (not) written; account access approved
// without an assertion.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { generateSecret, generateSync } from 'otplib';
import { manualClock } from '../../src/clock.ts';
import { canonicalHash } from '../../src/consents/canonical.ts';
import { hashId } from '../../src/oidc/adapter.ts';
import { authorizationUrl, HttpBrowser, type Page, pkce } from '../support/browserless.ts';
import { BANK_API, PASSWORD, REDIRECT_URI } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  confirmPayment,
  paymentAssertionOptions,
  SoftAuthenticator,
} from '../support/softAuthenticator.ts';

const CHANGED =
  'The payment changed after you saw it. Nothing was paid; go back to the application and start again.';
const NOT_VERIFIED = 'The security key or passkey could not be verified. Try again.';

const PAYMENT = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'EUR', amount: '1250.00' },
  creditorName: 'ACME GmbH',
  creditorAccount: { iban: 'DE89370400440532013000' },
  debtorAccount: { iban: 'GB29NWBK60161331926819' },
  remittanceInformation: 'Invoice 2026-117',
};
const ACCOUNTS = {
  type: 'account_information',
  accounts: 'all',
  access: ['balances', 'transactions'],
  expirationDateTime: '2027-03-01T00:00:00Z',
};

/** The error or alert a page shows. */
const shown = (page: Page) =>
  /role="alert"(?: id="[a-z-]+")?>([^<]*)</.exec(page.html)?.[1]?.replace(/&#39;/g, "'");
const optionsOf = paymentAssertionOptions;
const uidOf = (page: Page) => /\/interaction\/([^/"]+)\/consent"/.exec(page.html)![1]!;
const consentIdOf = (page: Page) => /name="consent" value="([^"]+)"/.exec(page.html)![1]!;
const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));

describe('consent to payments and account access', () => {
  const clock = manualClock(Date.UTC(2026, 11, 1, 14, 0, 0));
  const people: Record<string, { id: string; email: string; secret: string }> = {};
  const soft: Record<string, SoftAuthenticator> = {};
  let server: TestServer;
  let rp: oidc.Configuration;
  let clientId = '';

  before(async () => {
    server = await startTestServer({ clock, hostname: 'localhost' });
    const { catalogue, clients, accounts, roles, totp, webauthn } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      tokenFormat: 'jwt',
      scopes: [
        { name: 'accounts:read', description: 'See your accounts', requiredLevel: 1 },
        { name: 'payments:write', description: 'Make payments', requiredLevel: 2 },
        { name: 'payments:execute', description: 'Execute consented payments' },
      ],
      detailTypes: ['payment_initiation', 'account_information'],
      consentScope: 'payments:execute',
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read', 'payments:write'] });
    // alice has an authenticator app and a security key; tom an authenticator app only.
    for (const name of ['alice', 'tom']) {
      const email = `${name}@example.com`;
      const user = await accounts.create({ email, password: PASSWORD, roles: ['customer'] });
      const secret = generateSecret();
      await totp.importConfirmed([{ userId: user.id, secret }]);
      people[name] = { id: user.id, email, secret };
      soft[name] = new SoftAuthenticator({ origin: server.issuer });
    }
    const alice = { id: people.alice!.id, email: people.alice!.email, name: 'Alice' };
    const options = await webauthn.registrationOptions(alice, 'setup');
    await webauthn.register(alice.id, 'setup', soft.alice!.register(options), 'Alice key');
    const created = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECT_URI],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read', 'payments:write'] },
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
  after(() => server?.close());

  /** Starts an authorization with `details` and signs `name` in with password and app code. */
  async function consentPage(
    browser: HttpBrowser,
    name: string,
    scope: string,
    details: unknown[],
    extra: Record<string, string> = {},
  ) {
    const { verifier, challenge } = pkce();
    let page = await browser.open(
      authorizationUrl({
        issuer: server.issuer,
        clientId,
        redirectUri: REDIRECT_URI,
        scope: `openid ${scope}`,
        resource: BANK_API,
        challenge,
        state: 'st',
        extra: { authorization_details: JSON.stringify(details), ...extra },
      }),
      server.issuer,
    );
    page = await browser.submit(page, /\/login$/, {
      email: people[name]!.email,
      password: PASSWORD,
    });
    if (page.html.includes('/totp"')) {
      const code = generateSync({
        secret: people[name]!.secret,
        epoch: Math.floor(clock.now() / 1000),
      });
      page = await browser.submit(page, /\/totp$/, { code });
    }
    return { page, verifier };
  }

  const redeem = (page: Page, verifier: string) =>
    oidc.authorizationCodeGrant(
      rp,
      new URL(page.location!),
      { pkceCodeVerifier: verifier, expectedState: 'st' },
      { resource: BANK_API },
    );
  const codesIssued = async () =>
    Number(
      (
        await server.db
          .knex('oidc_artifacts')
          .where({ model: 'AuthorizationCode' })
          .count<{ n: string }[]>('* as n')
      )[0]!.n,
    );
  const events = async (action: string) =>
    (await server.app.services.audit.query({ action, limit: 100 })).events;

  test('a payment is shown in words, and authorised only with an assertion over it', async () => {
    clock.advance(60_000);
    // The clock moves on between tests: the app code of one is never a replay of another.
    const browser = new HttpBrowser();
    const { page, verifier } = await consentPage(browser, 'alice', 'payments:write', [PAYMENT]);
    assert.equal(page.status, 200);
    assert.match(page.html, /<h1>Allow Budget Planner to make this payment\?<\/h1>/);
    assert.match(page.html, /data-amount>€1,250\.00</);
    assert.match(page.html, /data-payee>ACME GmbH</);
    assert.match(page.html, /data-payee-account>DE89 •••• 3000</);
    assert.match(page.html, /<dt>From your account<\/dt><dd>GB29 •••• 6819<\/dd>/);
    assert.match(page.html, /<dt>Reference<\/dt><dd>Invoice 2026-117<\/dd>/);
    const consentId = consentIdOf(page);
    const { consents } = server.app.services;
    assert.equal((await consents.find(consentId))?.status, 'awaiting_authorisation');
    const options = optionsOf(page);
    const [credential] = await server.db.knex('webauthn_credentials').where({
      user_id: people.alice!.id,
    });
    assert.deepEqual(
      options.allowCredentials?.map((c) => c.id),
      [credential.credential_id],
      'only her own keys',
    );
    assert.equal(options.userVerification, 'preferred');

    const done = await confirmPayment(browser, page, (o) => soft.alice!.authenticate(o));
    assert.ok(done.location?.startsWith(REDIRECT_URI), done.html.slice(0, 500));
    const tokens = await redeem(done, verifier);
    const claims = claimsOf(tokens.access_token);
    assert.deepEqual(claims.authorization_details, [PAYMENT]);
    assert.equal(claims.consent_id, consentId);
    const consent = await consents.find(consentId);
    assert.equal(consent?.status, 'authorised');
    assert.deepEqual(consent?.details, [PAYMENT]);

    const [authorised] = await events('consent.payment_authorised');
    assert.equal(authorised?.outcome, 'success');
    assert.deepEqual(authorised?.details, {
      consent: consentId,
      canonicalHash: canonicalHash([PAYMENT]),
      client: clientId,
      credential: credential.id,
      userVerified: true,
    });
    const given = (await events('consent.given')).find((e) => e.details.consent === consentId);
    assert.deepEqual(given?.details.detailTypes, ['payment_initiation']);
  });

  test('the amount changed after the page was shown: refused, nothing authorised or issued', async () => {
    clock.advance(60_000);
    const browser = new HttpBrowser();
    const { page } = await consentPage(browser, 'alice', 'payments:write', [PAYMENT]);
    const consentId = consentIdOf(page);
    const options = optionsOf(page);
    // The stored request changes under the page (as a tampered or raced request would).
    const changed = [{ ...PAYMENT, instructedAmount: { currency: 'EUR', amount: '9250.00' } }];
    const updated = await server.db
      .knex('oidc_artifacts')
      .where({ model: 'Interaction', id: hashId(uidOf(page)) })
      .update({
        payload: server.db.knex.raw(
          "jsonb_set(payload, '{params,authorization_details}', to_jsonb(?::text))",
          [JSON.stringify(changed)],
        ),
      });
    assert.equal(updated, 1);
    const codes = await codesIssued();
    const counter = Number(
      (await server.db.knex('webauthn_credentials').where({ user_id: people.alice!.id }))[0]
        .counter,
    );

    const refused = await browser.submit(page, /\/consent$/, {
      assertion: JSON.stringify(soft.alice!.authenticate(options)),
    });
    assert.equal(refused.status, 409);
    assert.equal(shown(refused), CHANGED);
    assert.equal(refused.location, undefined);
    assert.equal(
      (await server.app.services.consents.find(consentId))?.status,
      'awaiting_authorisation',
    );
    assert.equal(await codesIssued(), codes, 'no code issued');
    assert.equal(
      Number(
        (await server.db.knex('webauthn_credentials').where({ user_id: people.alice!.id }))[0]
          .counter,
      ),
      counter,
      'the assertion was not used',
    );
    const failed = (await events('consent.payment_failed')).find(
      (e) => e.details.consent === consentId,
    );
    assert.equal(failed?.outcome, 'failure');
    assert.deepEqual(failed?.details, {
      consent: consentId,
      canonicalHash: canonicalHash([PAYMENT]),
      client: clientId,
      reason: 'payment_changed',
    });
  });

  test('an assertion over another challenge (a different nonce) is refused; the page asks again', async () => {
    clock.advance(60_000);
    const browser = new HttpBrowser();
    const { page, verifier } = await consentPage(browser, 'alice', 'payments:write', [PAYMENT]);
    const consentId = consentIdOf(page);
    const codes = await codesIssued();
    const forged = await browser.submit(page, /\/consent$/, {
      nonce: 'another-nonce',
      assertion: JSON.stringify(soft.alice!.authenticate(optionsOf(page))),
    });
    assert.equal(forged.status, 401);
    assert.equal(shown(forged), NOT_VERIFIED);
    assert.equal(
      (await server.app.services.consents.find(consentId))?.status,
      'awaiting_authorisation',
    );
    assert.equal(await codesIssued(), codes);
    const failed = (await events('consent.payment_failed')).find(
      (e) => e.details.consent === consentId,
    );
    assert.equal(failed?.details.reason, 'challenge');

    // No assertion at all (a form posted without the ceremony): refused the same way.
    const bare = await browser.submit(forged, /\/consent$/, {});
    assert.equal(bare.status, 401);
    assert.equal(shown(bare), NOT_VERIFIED);

    // The page shown again carries a fresh challenge for the same consent: that one works.
    assert.equal(consentIdOf(bare), consentId);
    const done = await browser.submit(bare, /\/consent$/, {
      assertion: JSON.stringify(soft.alice!.authenticate(optionsOf(bare))),
    });
    assert.ok(done.location?.startsWith(REDIRECT_URI));
    assert.equal(claimsOf((await redeem(done, verifier)).access_token).consent_id, consentId);
  });

  test('an assertion made on one consent page does not authorise the same payment in another login', async () => {
    clock.advance(60_000);
    const first = new HttpBrowser();
    const a = await consentPage(first, 'alice', 'payments:write', [PAYMENT]);
    clock.advance(60_000);
    const second = new HttpBrowser();
    const b = await consentPage(second, 'alice', 'payments:write', [PAYMENT]);
    const consentB = consentIdOf(b.page);
    assert.notEqual(consentB, consentIdOf(a.page), 'a consent per login');
    const codes = await codesIssued();
    // The assertion and nonce of page A, posted with page B's form (its consent, its session).
    const nonceA = /name="nonce" value="([^"]+)"/.exec(a.page.html)![1]!;
    const moved = await second.submit(b.page, /\/consent$/, {
      nonce: nonceA,
      assertion: JSON.stringify(soft.alice!.authenticate(optionsOf(a.page))),
    });
    assert.equal(moved.status, 401);
    assert.equal(shown(moved), NOT_VERIFIED);
    assert.equal(
      (await server.app.services.consents.find(consentB))?.status,
      'awaiting_authorisation',
    );
    assert.equal(await codesIssued(), codes);
    // Nor can A's login decide on B's consent: the form's token is bound to the consent it shows.
    const swapped = await first.submit(a.page, /\/consent$/, {
      consent: consentB,
      assertion: JSON.stringify(soft.alice!.authenticate(optionsOf(a.page))),
    });
    assert.equal(swapped.status, 403);
    assert.equal(
      (await server.app.services.consents.find(consentB))?.status,
      'awaiting_authorisation',
    );
    assert.equal(await codesIssued(), codes);
  });

  test('a person with an app code only cannot authorise a payment, and refusing ends in access_denied', async () => {
    clock.advance(60_000);
    const browser = new HttpBrowser();
    const { page } = await consentPage(browser, 'tom', 'payments:write', [PAYMENT], {
      ui_locales: 'de',
    });
    assert.equal(page.status, 200);
    assert.match(page.html, /data-amount>1\.250,00\s€</, 'formatted for German');
    assert.match(
      shown(page) ?? '',
      /^Payments need a passkey or security key: an app code or a recovery code cannot confirm a payment\./,
    );
    assert.match(page.html, /href="\/account\/webauthn"/);
    assert.doesNotMatch(page.html, /value="approve"/);
    assert.doesNotMatch(page.html, /payment-assertion-options/);
    const consentId = consentIdOf(page);
    const codes = await codesIssued();

    // An approval posted anyway (with a key Portcullis does not know) is refused.
    const options = { challenge: 'bWFkZSB1cA', rpId: 'localhost', allowCredentials: [] };
    soft.tom!.register({
      rp: { id: 'localhost', name: 'x' },
      user: { id: 'dG9t', name: 'tom', displayName: '' },
      challenge: 'bWFkZSB1cA',
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    });
    const forced = await browser.submit(page, /\/consent$/, {
      decision: 'approve',
      assertion: JSON.stringify(soft.tom!.authenticate(options)),
    });
    assert.equal(forced.status, 401);
    assert.equal(await codesIssued(), codes);
    assert.equal(
      (await server.app.services.consents.find(consentId))?.status,
      'awaiting_authorisation',
    );

    const refused = await browser.submit(forced, /\/consent$/, { decision: 'deny' });
    assert.ok(refused.location?.startsWith(REDIRECT_URI));
    assert.equal(new URL(refused.location!).searchParams.get('error'), 'access_denied');
    assert.equal(await codesIssued(), codes);
    assert.equal((await server.app.services.consents.find(consentId))?.status, 'rejected');
    const [rejected] = await events('consent.rejected');
    assert.deepEqual(rejected?.details, {
      consent: consentId,
      detailTypes: ['payment_initiation'],
    });
  });

  test('account access is shown with what is shared and until when, and approved without an assertion', async () => {
    clock.advance(60_000);
    const browser = new HttpBrowser();
    const { page, verifier } = await consentPage(browser, 'alice', 'accounts:read', [ACCOUNTS]);
    assert.match(page.html, /<h1>Allow Budget Planner access\?<\/h1>/);
    assert.match(page.html, /All your accounts/);
    assert.match(page.html, /Balances, Transactions/);
    assert.match(page.html, /March 1, 2027/);
    const consentId = consentIdOf(page);
    const done = await browser.submit(page, /\/consent$/, { decision: 'approve' });
    assert.ok(done.location?.startsWith(REDIRECT_URI), done.html.slice(0, 500));
    const claims = claimsOf((await redeem(done, verifier)).access_token);
    assert.deepEqual(claims.authorization_details, [ACCOUNTS]);
    assert.equal(claims.consent_id, consentId);
    assert.equal((await server.app.services.consents.find(consentId))?.status, 'authorised');

    // The same request refused: one click, access_denied, the consent rejected, no code.
    clock.advance(60_000);
    const other = new HttpBrowser();
    const again = await consentPage(other, 'alice', 'accounts:read', [ACCOUNTS]);
    const refusedId = consentIdOf(again.page);
    const codes = await codesIssued();
    const refused = await other.submit(again.page, /\/consent$/, { decision: 'deny' });
    assert.equal(new URL(refused.location!).searchParams.get('error'), 'access_denied');
    assert.equal((await server.app.services.consents.find(refusedId))?.status, 'rejected');
    assert.equal(await codesIssued(), codes);
    const rejected = (await events('consent.rejected')).find(
      (e) => e.details.consent === refusedId,
    );
    assert.deepEqual(rejected?.details.detailTypes, ['account_information']);
  });
});
