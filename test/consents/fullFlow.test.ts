// The consent lifecycle end to end over HTTP: account access authorised on the real consent page,
// the accounts API's backend reading the consent with its (opaque) client-credentials token, and
// an administrator's revocation ending the grant: the refresh token fails, introspection answers
// inactive, and the API sees the consent revoked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { adminApi, type Reply } from '../admin/helpers.ts';
import {
  ACCOUNTS,
  accountAccess,
  postAs,
  type RarWorld,
  REDIRECT,
  seedRar,
} from '../oidc/richAuthorizationWorld.ts';
import { authorizationUrl, HttpBrowser, pkce } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('consent lifecycle over HTTP', () => {
  let server: TestServer;
  let w: RarWorld;

  before(async () => {
    server = await startTestServer();
    w = await seedRar(server);
  });
  after(() => server.close());

  test('authorised on the page, read by its API, revoked by an administrator: tokens end', async () => {
    const details = [accountAccess()];
    const browser = new HttpBrowser();
    const { verifier, challenge } = pkce();
    let page = await browser.open(
      authorizationUrl({
        issuer: server.issuer,
        clientId: w.tpp.id,
        redirectUri: REDIRECT,
        scope: 'openid offline_access accounts:read',
        resource: ACCOUNTS,
        challenge,
        state: 'st',
        extra: { authorization_details: JSON.stringify(details), prompt: 'consent' },
      }),
      server.issuer,
    );
    page = await browser.submit(page, /\/login$/, { email: w.person.email, password: PASSWORD });
    const consentId = /name="consent" value="([^"]+)"/.exec(page.html)?.[1];
    assert.ok(consentId, page.html.slice(0, 800));
    const done = await browser.submit(page, /\/consent$/, { decision: 'approve' });
    assert.ok(done.location?.startsWith(REDIRECT), done.html.slice(0, 500));
    const rp = await w.rp(w.tpp);
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      new URL(done.location!),
      { pkceCodeVerifier: verifier, expectedState: 'st' },
      { resource: ACCOUNTS },
    );
    assert.ok(tokens.refresh_token, 'a refresh token was issued');

    // The accounts API's backend reads the consent with its opaque client-credentials token.
    const rs = await oidc.clientCredentialsGrant(await w.rp(w.accountsRs), { resource: ACCOUNTS });
    assert.ok(!rs.access_token.includes('.'), 'the accounts API issues opaque tokens');
    const read = async () => {
      const res = await fetch(server.url(`/consents/${consentId}`), {
        headers: { authorization: `Bearer ${rs.access_token}` },
      });
      return { status: res.status, body: (await res.json()) as Reply['body'] };
    };
    const shown = await read();
    assert.equal(shown.status, 200, JSON.stringify(shown.body));
    assert.equal(shown.body.status, 'authorised');
    assert.equal(shown.body.subject, w.person.id);
    assert.equal(shown.body.client_id, w.tpp.id);
    assert.deepEqual(shown.body.authorization_details, details);
    // Account access is used, not consumed.
    const consume = await fetch(server.url(`/consents/${consentId}/consume`), {
      method: 'POST',
      headers: { authorization: `Bearer ${rs.access_token}` },
    });
    assert.equal(consume.status, 409);
    assert.equal(((await consume.json()) as Reply['body']).title, 'Consent not consumable');

    const introspect = () =>
      postAs(server.url('/token/introspection'), w.accountsRs, { token: tokens.access_token });
    assert.equal((await introspect()).body.active, true);

    // An administrator revokes it.
    const admin = adminApi(server);
    const revoked = await admin.call('POST', `/consents/${consentId}/revoke`, {
      token: await admin.machineToken(['admin:consents']),
    });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal(revoked.body.status, 'revoked');
    assert.ok(revoked.body.tokensRevoked >= 1);

    await assert.rejects(oidc.refreshTokenGrant(rp, tokens.refresh_token!), {
      error: 'invalid_grant',
    });
    assert.deepEqual((await introspect()).body, { active: false });
    assert.equal((await read()).body.status, 'revoked');
  });
});
