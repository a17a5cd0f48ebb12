// The consent page of authorization_details over HTTP, with a software authenticator: a payment
// authorised with an assertion over exactly that payment, and the refusals (the payment changed
// after the page, an assertion for another challenge or carried to another login, a person with
// an app code only, a refusal), each with what was (not) written; account access approved
// without an assertion, and refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalHash } from '../../src/consents/canonical.ts';
import { hashId } from '../../src/oidc/adapter.ts';
import { HttpBrowser } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/fixtures.ts';
import {
  confirmPayment,
  paymentAssertionOptions as optionsOf,
} from '../support/softAuthenticator.ts';
import {
  ACCOUNTS,
  claimsOf,
  consentIdOf,
  PAYMENT,
  paymentWorld,
  shown,
  uidOf,
} from './paymentWorld.ts';

const CHANGED =
  'The payment changed after you saw it. Nothing was paid; go back to the application and start again.';
const NOT_VERIFIED = 'The security key or passkey could not be verified. Try again.';

describe('consent to payments and account access', () => {
  const w = paymentWorld();
  const { clock, people, soft, consentPage, redeem, codesIssued, events } = w;

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
    // Without JavaScript the page says why it cannot confirm, and the refusal still works.
    assert.match(page.html, /<p class="notice" data-webauthn-missing>Confirming a payment needs/);
    const consentId = consentIdOf(page);
    const { consents } = w.server().app.services;
    assert.equal((await consents.find(consentId))?.status, 'awaiting_authorisation');
    const options = optionsOf(page);
    const [credential] = await w.server().db.knex('webauthn_credentials').where({
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
      client: w.clientId(),
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
    const updated = await w
      .server()
      .db.knex('oidc_artifacts')
      .where({ model: 'Interaction', id: hashId(uidOf(page)) })
      .update({
        payload: w
          .server()
          .db.knex.raw("jsonb_set(payload, '{params,authorization_details}', to_jsonb(?::text))", [
            JSON.stringify(changed),
          ]),
      });
    assert.equal(updated, 1);
    const codes = await codesIssued();
    const counter = Number(
      (await w.server().db.knex('webauthn_credentials').where({ user_id: people.alice!.id }))[0]
        .counter,
    );

    const refused = await browser.submit(page, /\/consent$/, {
      assertion: JSON.stringify(soft.alice!.authenticate(options)),
    });
    assert.equal(refused.status, 409);
    assert.equal(shown(refused), CHANGED);
    assert.equal(refused.location, undefined);
    assert.equal(
      (await w.server().app.services.consents.find(consentId))?.status,
      'awaiting_authorisation',
    );
    assert.equal(await codesIssued(), codes, 'no code issued');
    assert.equal(
      Number(
        (await w.server().db.knex('webauthn_credentials').where({ user_id: people.alice!.id }))[0]
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
      client: w.clientId(),
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
      (await w.server().app.services.consents.find(consentId))?.status,
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
      (await w.server().app.services.consents.find(consentB))?.status,
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
      (await w.server().app.services.consents.find(consentB))?.status,
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
      /^Zahlungen erfordern einen Passkey oder Sicherheitsschlüssel: Ein App-Code oder Wiederherstellungscode kann keine Zahlung bestätigen\./,
      'in the language of ui_locales',
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
      (await w.server().app.services.consents.find(consentId))?.status,
      'awaiting_authorisation',
    );

    const refused = await browser.submit(forced, /\/consent$/, { decision: 'deny' });
    assert.ok(refused.location?.startsWith(REDIRECT_URI));
    assert.equal(new URL(refused.location!).searchParams.get('error'), 'access_denied');
    assert.equal(await codesIssued(), codes);
    assert.equal((await w.server().app.services.consents.find(consentId))?.status, 'rejected');
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
    assert.match(page.html, /Balances and Transactions/);
    assert.match(page.html, /March 1, 2027/);
    const consentId = consentIdOf(page);
    const done = await browser.submit(page, /\/consent$/, { decision: 'approve' });
    assert.ok(done.location?.startsWith(REDIRECT_URI), done.html.slice(0, 500));
    const claims = claimsOf((await redeem(done, verifier)).access_token);
    assert.deepEqual(claims.authorization_details, [ACCOUNTS]);
    assert.equal(claims.consent_id, consentId);
    assert.equal((await w.server().app.services.consents.find(consentId))?.status, 'authorised');

    // The same request refused: one click, access_denied, the consent rejected, no code.
    clock.advance(60_000);
    const other = new HttpBrowser();
    const again = await consentPage(other, 'alice', 'accounts:read', [ACCOUNTS]);
    const refusedId = consentIdOf(again.page);
    const codes = await codesIssued();
    const refused = await other.submit(again.page, /\/consent$/, { decision: 'deny' });
    assert.equal(new URL(refused.location!).searchParams.get('error'), 'access_denied');
    assert.equal((await w.server().app.services.consents.find(refusedId))?.status, 'rejected');
    assert.equal(await codesIssued(), codes);
    const rejected = (await events('consent.rejected')).find(
      (e) => e.details.consent === refusedId,
    );
    assert.deepEqual(rejected?.details.detailTypes, ['account_information']);
  });
});
