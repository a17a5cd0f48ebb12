// A FAPI 2.0 sign-in in a real browser: the relying party (openid-client) pushes its request
// (PAR) with a private_key_jwt assertion and a DPoP proof, Chromium signs in and consents on
// Portcullis' pages, and the relying party redeems the code and calls userinfo with DPoP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { BANK_API, PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { launchBrowser, openContext, startCallbackServer } from './support/browser.ts';
import { loginFlows } from './support/flows.ts';

describe('FAPI 2.0 sign-in in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let app: Awaited<ReturnType<typeof startCallbackServer>>;
  let rp: oidc.Configuration;
  let redirectUri: string;
  let userId: string;

  before(async () => {
    browser = await launchBrowser();
    app = await startCallbackServer();
    redirectUri = `${app.url}/callback`;
    server = await startTestServer();
    const { catalogue, clients, accounts, roles } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      tokenFormat: 'jwt',
      accessTokenTtl: 300,
      scopes: [{ name: 'accounts:read', description: 'See your accounts and balances' }],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read'] });
    userId = (
      await accounts.create({
        email: 'alice@example.com',
        name: 'Alice Liddell',
        password: PASSWORD,
        roles: ['customer'],
      })
    ).id;
    // The third-party provider's signing key: the public half registered, the private half
    // kept by the relying party.
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const kid = 'tpp-signing-key';
    const { client } = await clients.create({
      name: 'Account Aggregator',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [redirectUri],
      authMethod: 'private_key_jwt',
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
      apiAccess: { [BANK_API]: ['accounts:read'] },
      profile: 'fapi2',
    });
    rp = await oidc.discovery(
      new URL(server.issuer),
      client.clientId,
      { redirect_uris: [redirectUri], token_endpoint_auth_method: 'private_key_jwt' },
      oidc.PrivateKeyJwt({ key: privateKey, kid }),
      { execute: [oidc.allowInsecureRequests] },
    );
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await app?.close();
  });

  /** Sign-ins started (oidc-provider's Interaction rows). */
  const interactions = async () =>
    Number(
      (
        await server.db
          .knex('oidc_artifacts')
          .where({ model: 'Interaction' })
          .count({ n: '*' })
          .first()
      )?.n,
    );

  const flows = loginFlows(
    () => rp,
    () => redirectUri,
  );

  test('PAR with DPoP, sign in, consent, DPoP-bound tokens, userinfo with DPoP', async (t) => {
    const { page, done } = await openContext(browser, t.name);
    const dpopKeys = await oidc.randomDPoPKeyPair('ES256');
    const jkt = await calculateJwkThumbprint(await exportJWK(dpopKeys.publicKey));
    const DPoP = oidc.getDPoPHandle(rp, dpopKeys);

    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = await oidc.buildAuthorizationUrlWithPAR(
      rp,
      {
        redirect_uri: redirectUri,
        scope: 'openid accounts:read',
        resource: BANK_API,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      },
      { DPoP },
    );
    assert.deepEqual(
      [...url.searchParams.keys()].sort(),
      ['client_id', 'request_uri'],
      'the browser carries only a reference to the pushed request',
    );

    await page.goto(url.href);
    await flows.password(page, 'alice@example.com', PASSWORD);
    await page.getByRole('heading', { name: 'Allow Account Aggregator access?' }).waitFor();
    assert.ok(await page.getByText('See your accounts and balances').isVisible());
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${redirectUri}?**`);
    const callback = new URL(page.url());
    assert.equal(callback.searchParams.get('iss'), server.issuer, 'RFC 9207: iss in the response');

    // Without `resource` and with openid: the userinfo token, bound to the DPoP key.
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      callback,
      {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      },
      undefined,
      { DPoP },
    );
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    assert.equal(tokens.claims()?.sub, userId);
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, userId, { DPoP });
    assert.equal(info.email, undefined, 'only the scopes asked for');
    assert.equal(info.sub, userId);
    const introspected = await oidc.tokenIntrospection(rp, tokens.access_token);
    assert.equal(introspected.active, true);
    assert.equal(introspected.token_type, 'DPoP');
    assert.deepEqual(introspected.cnf, { jkt });

    // The bank API's token, through the refresh token: a JWT bound to the same key.
    const api = await oidc.refreshTokenGrant(
      rp,
      tokens.refresh_token!,
      { resource: BANK_API },
      { DPoP },
    );
    assert.equal(api.token_type.toLowerCase(), 'dpop');
    assert.equal(api.scope, 'accounts:read');
    const claims = decodeJwt(api.access_token);
    assert.equal(claims.aud, BANK_API);
    assert.deepEqual(claims.cnf, { jkt });
    await done();
  });

  test('an authorization request that was not pushed is refused before any sign-in', async (t) => {
    const { page, done } = await openContext(browser, t.name);
    const interactionsBefore = await interactions();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: redirectUri,
      scope: 'openid accounts:read',
      resource: BANK_API,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state,
    });
    await page.goto(url.href);
    // The registered redirect URI gets the error (RFC 9126 section 4: invalid_request).
    await page.waitForURL(`${redirectUri}?**`);
    const callback = new URL(page.url());
    assert.deepEqual(Object.fromEntries(callback.searchParams), {
      error: 'invalid_request',
      error_description: 'Pushed Authorization Request must be used',
      state,
      iss: server.issuer,
    });
    assert.equal(await interactions(), interactionsBefore, 'no sign-in was started for it');
    await done();
  });
});
