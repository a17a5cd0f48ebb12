// A request that needs level 3 (phishing-resistant) offers only what reaches it: a passkey holder
// is not asked for an app code first, and someone without a key is told why and how to add one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HttpBrowser } from '../support/browserless.ts';
import { webauthnCeremony } from '../support/softAuthenticator.ts';
import { ACR, webauthnWorld } from './webauthnWorld.ts';

const WHY = /<strong>This app needs a passkey or security key\.<\/strong>/;

describe('step-up to level 3', () => {
  const w = webauthnWorld(['alice']);

  test('without a key: told why, confirms with the app to add one, then uses it', async () => {
    const browser = new HttpBrowser();
    const { page, verifier } = await w.authorize(browser, 'mandates:write');
    const ask = await w.password(browser, page, 'alice');
    assert.match(ask.html, WHY);
    assert.match(ask.html, /You have none yet: confirm it is you with your authenticator app/);
    assert.match(
      ask.html,
      /autocomplete="one-time-code"/,
      'the app code, to be allowed to add a key',
    );
    assert.doesNotMatch(ask.html, /data-webauthn="authenticate"/);

    const enrol = await w.totpStep(browser, ask, 'alice');
    assert.match(enrol.html, /<h1>Add a second factor<\/h1>/);
    assert.match(enrol.html, /A passkey is kept by this device/);
    const { result: useIt } = await webauthnCeremony(browser, enrol, 'register', (o) =>
      w.soft.alice!.register(o),
    );
    const { result: done } = await webauthnCeremony(browser, useIt!, 'authenticate', (o) =>
      w.soft.alice!.authenticate(o),
    );
    assert.equal((await w.redeem(done!, verifier)).claims()?.acr, ACR[3]);
  });

  test('with a key: a level-1 session stepping up is offered only the key, and told why', async () => {
    const browser = new HttpBrowser();
    const low = await w.authorize(browser, 'accounts:read');
    const signedIn = await w.password(browser, low.page, 'alice');
    assert.equal((await w.redeem(signedIn, low.verifier)).claims()?.acr, ACR[1]);

    const { page, verifier } = await w.authorize(browser, 'mandates:write');
    assert.match(page.html, /<h1>Confirm it is you<\/h1>/);
    assert.match(page.html, WHY);
    assert.match(page.html, /An authenticator app code is not enough for it\./);
    assert.doesNotMatch(page.html, /autocomplete="one-time-code"/, 'no app code field');
    assert.doesNotMatch(page.html, /\/recovery"/, 'no recovery code form');
    assert.match(page.html, /data-webauthn="authenticate"/);
    // No app code is used up on the way: only the key is recorded as used.
    const used = async () =>
      (await w.events('mfa.used', 'alice')).map((e) => e.details.method as string);
    const before = await used();
    const { result: done } = await webauthnCeremony(browser, page, 'authenticate', (o) =>
      w.soft.alice!.authenticate(o),
    );
    const tokens = await w.redeem(done!, verifier);
    assert.equal(tokens.scope, 'mandates:write');
    assert.equal(tokens.claims()?.acr, ACR[3]);
    const after = await used();
    const count = (list: string[], m: string) => list.filter((x) => x === m).length;
    assert.equal(count(after, 'totp'), count(before, 'totp'), 'no app code used');
    assert.equal(count(after, 'webauthn'), count(before, 'webauthn') + 1);
  });

  test('a level-2 request still offers the app code to a key holder', async () => {
    const browser = new HttpBrowser();
    const { page } = await w.authorize(browser, 'payments:write');
    const ask = await w.password(browser, page, 'alice');
    assert.match(ask.html, /autocomplete="one-time-code"/);
    assert.match(ask.html, /data-webauthn="authenticate"/);
    assert.doesNotMatch(ask.html, WHY);
  });
});
