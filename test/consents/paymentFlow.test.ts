// A payment end to end over HTTP: authorised on the consent page with a WebAuthn assertion over
// that payment, its token carrying the consent id, consumed by the payments engine through the
// consent API (again by it: the same answer; by another engine: 409), after which the consent API
// and the account page show it paid (no revoke button).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { claimsOf, PAYMENT, paymentWorld } from '../interactions/paymentWorld.ts';
import { HttpBrowser } from '../support/browserless.ts';
import { BANK_API, REDIRECT_URI } from '../support/fixtures.ts';
import { confirmPayment } from '../support/softAuthenticator.ts';

describe('a payment consent from the page to its execution', () => {
  const w = paymentWorld();

  /** A client-credentials client of the Bank API with its consent scope, and its token. */
  async function engine(name: string) {
    const server = w.server();
    const { client, secret } = await server.app.services.clients.create({
      name,
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['payments:execute'] },
    });
    const config = await oidc.discovery(
      new URL(server.issuer),
      client.clientId,
      {},
      oidc.ClientSecretBasic(secret!),
      { execute: [oidc.allowInsecureRequests] },
    );
    const { access_token } = await oidc.clientCredentialsGrant(config, {
      resource: BANK_API,
      scope: 'payments:execute',
    });
    return { id: client.clientId, config, token: access_token };
  }

  test('consented with a passkey, consumed once by the engine, then shown paid', async () => {
    const server = w.server();
    w.clock.advance(60_000);
    const browser = new HttpBrowser();
    const { page, verifier } = await w.consentPage(browser, 'alice', 'payments:write', [PAYMENT]);
    const done = await confirmPayment(browser, page, (o) => w.soft.alice!.authenticate(o));
    assert.ok(done.location?.startsWith(REDIRECT_URI), done.html.slice(0, 500));
    const tokens = await w.redeem(done, verifier);
    const consentId = claimsOf(tokens.access_token).consent_id as string;
    assert.match(consentId, /^cns_/);

    const payments = await engine('Payments engine');

    const consume = (token: string) =>
      fetch(server.url(`/consents/${consentId}/consume`), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
    const first = await consume(payments.token);
    assert.equal(first.status, 200);
    const body = (await first.json()) as Record<string, unknown>;
    assert.equal(body.status, 'consumed');
    assert.equal(body.subject, w.people.alice!.id);
    assert.equal(body.client_id, w.clientId());
    assert.deepEqual(body.authorization_details, [PAYMENT]);
    const again = await consume(payments.token);
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), body);
    const other = await engine('Second engine');
    const refused = await consume(other.token);
    assert.equal(refused.status, 409);
    assert.equal(((await refused.json()) as { title: string }).title, 'Consent already consumed');

    // The token is a JWT: an API learns the consent's state from the consent API.
    const read = await fetch(server.url(`/consents/${consentId}`), {
      headers: { authorization: `Bearer ${payments.token}` },
    });
    assert.equal(((await read.json()) as { status: string }).status, 'consumed');

    const account = await browser.open(server.url('/account'));
    const row = new RegExp(`<tr data-consent="${consentId}">([\\s\\S]*?)</tr>`).exec(
      account.html,
    )?.[1];
    assert.ok(row, account.html.slice(0, 1500));
    assert.match(row, /Payment of €1,250\.00 to ACME GmbH/);
    assert.match(row, /<td>Paid<\/td>/);
    assert.doesNotMatch(row, /revoke/);
  });
});
