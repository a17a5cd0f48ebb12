// authorization_details end to end over real HTTP, with openid-client as the client: PAR with a
// payment or an account access and no resource, the consent page (a software authenticator makes
// the payment's assertion), tokens carrying exactly the consented details and a consent_id (JWT
// and introspection), then the consent's end: a revoked or consumed consent makes introspection
// inactive and the refresh fail, writing nothing. Also a FAPI 2.0 client (PAR, DPoP).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { createTpp, relyingParty } from '../fapi/world.ts';
import { HttpBrowser, type Page } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { SoftAuthenticator, webauthnCeremony } from '../support/softAuthenticator.ts';
import {
  ACCOUNTS,
  accountAccess,
  PAYMENT,
  PAYMENTS,
  postAs,
  type RarWorld,
  REDIRECT,
  type Secretive,
  seedRar,
  written,
} from './richAuthorizationWorld.ts';

const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
const optionsOf = (page: Page) => {
  const json =
    /<script type="application\/json" id="payment-assertion-options">([^<]*)<\/script>/.exec(
      page.html,
    )?.[1];
  if (!json) throw new Error(`no assertion options on the page:\n${page.html.slice(0, 2000)}`);
  return JSON.parse(json);
};

describe('authorization_details from PAR to token, and the consent behind the token', () => {
  let server: TestServer;
  let world: RarWorld;
  let soft: SoftAuthenticator;

  before(async () => {
    server = await startTestServer({ hostname: 'localhost' });
    world = await seedRar(server);
    soft = new SoftAuthenticator({ origin: server.issuer });
    const { webauthn } = server.app.services;
    const person = { id: world.person.id, email: world.person.email, name: 'Pat' };
    const options = await webauthn.registrationOptions(person, 'setup');
    await webauthn.register(person.id, 'setup', soft.register(options), 'Pat key');
  });
  after(() => server?.close());

  /** Follows `url` in a fresh browser: password (and the key when asked), then approves the details. */
  async function approve(url: URL): Promise<URL> {
    const browser = new HttpBrowser();
    let page = await browser.open(String(url), server.issuer);
    page = await browser.submit(page, /\/login$/, {
      email: world.person.email,
      password: PASSWORD,
    });
    if (page.html.includes('data-webauthn="authenticate"'))
      page = (await webauthnCeremony(browser, page, 'authenticate', (o) => soft.authenticate(o)))
        .result!;
    const payment = page.html.includes('id="payment-assertion-options"');
    page = await browser.submit(page, /\/consent$/, {
      decision: 'approve',
      ...(payment ? { assertion: JSON.stringify(soft.authenticate(optionsOf(page))) } : {}),
    });
    assert.ok(page.location?.startsWith(REDIRECT), `stopped at ${page.status}: ${page.html}`);
    return new URL(page.location!);
  }

  /** Pushes an authorization request with `details` (no resource); its URL and PKCE checks. */
  async function pushed(config: oidc.Configuration, details: unknown[], scope = 'openid') {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      authorization_details: JSON.stringify(details),
    });
    return { url, verifier, state };
  }

  /** PAR with `details` (no resource), consent, code for tokens; openid-client throughout. */
  async function consentTo(client: Secretive, details: unknown[], scope = 'openid') {
    const config = await world.rp(client);
    const { url, verifier, state } = await pushed(config, details, scope);
    const tokens = await oidc.authorizationCodeGrant(config, await approve(url), {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    return { config, tokens };
  }

  const consentsOf = () =>
    server.app.services.consents.list({ accountId: world.person.id, limit: 100 });

  test('discovery lists the types the catalogue declares', async () => {
    const res = await fetch(server.url('/.well-known/openid-configuration'));
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(body.authorization_details_types_supported, [
      'payment_initiation',
      'account_information',
    ]);
  });

  test('account access: the opaque token introspects with the details and the consent id', async () => {
    const detail = accountAccess();
    const { tokens } = await consentTo(world.tpp, [detail]);
    assert.deepEqual(tokens.authorization_details, [detail]);
    const consent = (await consentsOf()).find((c) => c.types.includes('account_information'))!;
    assert.equal(consent.status, 'authorised');
    const seen = await postAs(server.url('/token/introspection'), world.accountsRs, {
      token: tokens.access_token,
    });
    assert.equal(seen.body.active, true);
    assert.equal(seen.body.aud, ACCOUNTS);
    assert.equal(seen.body.consent_id, consent.id);
    assert.deepEqual(seen.body.authorization_details, [detail]);
  });

  test('payment: the JWT carries exactly the payment and the consent id', async () => {
    const { tokens } = await consentTo(world.tpp, [PAYMENT]);
    assert.deepEqual(tokens.authorization_details, [PAYMENT]);
    const claims = claimsOf(tokens.access_token);
    assert.equal(claims.aud, PAYMENTS);
    assert.deepEqual(claims.authorization_details, [PAYMENT]);
    const consent = (await consentsOf()).find((c) => c.id === claims.consent_id);
    assert.equal(consent?.status, 'authorised');
    assert.deepEqual(consent?.details, [PAYMENT]);
    // The assertion made for the payment is a level-3 authentication, and the tokens say so.
    const idToken = claimsOf(tokens.id_token as string);
    for (const c of [claims, idToken]) {
      assert.equal(c.acr, 'urn:portcullis:ac:phishing-resistant');
      assert.ok((c.amr as string[]).includes('mfa'), String(c.amr));
      assert.ok(
        (c.amr as string[]).some((m) => m === 'hwk' || m === 'swk'),
        String(c.amr),
      );
    }
  });

  test('a token for a request without details carries none, even after a payment', async () => {
    await consentTo(world.tpp, [PAYMENT]);
    const config = await world.rp(world.tpp);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid payments:write',
      resource: PAYMENTS,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'plain',
    });
    const browser = new HttpBrowser();
    let page = await browser.open(String(url), server.issuer);
    if (page.html.includes('/login"'))
      page = await browser.submit(page, /\/login$/, {
        email: world.person.email,
        password: PASSWORD,
      });
    if (page.html.includes('/consent"'))
      page = await browser.submit(page, /\/consent$/, { decision: 'approve' });
    const tokens = await oidc.authorizationCodeGrant(
      config,
      new URL(page.location!),
      { pkceCodeVerifier: verifier, expectedState: 'plain' },
      { resource: PAYMENTS },
    );
    assert.equal(tokens.authorization_details, undefined);
    const claims = claimsOf(tokens.access_token);
    assert.equal(claims.authorization_details, undefined);
    assert.equal(claims.consent_id, undefined);
  });

  test('details of two APIs: each token carries those of its own API only', async () => {
    const detail = accountAccess(60);
    const config = await world.rp(world.tpp);
    const { url, verifier, state } = await pushed(config, [PAYMENT, detail]);
    const callback = await approve(url);
    // Two APIs: the client names the one its token is for.
    const payments = await oidc.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, expectedState: state },
      { resource: PAYMENTS },
    );
    assert.deepEqual(payments.authorization_details, [PAYMENT]);
    assert.deepEqual(claimsOf(payments.access_token).authorization_details, [PAYMENT]);
    const accounts = await oidc.refreshTokenGrant(config, payments.refresh_token!, {
      resource: ACCOUNTS,
    });
    assert.deepEqual(accounts.authorization_details, [detail]);
    const seen = await postAs(server.url('/token/introspection'), world.accountsRs, {
      token: accounts.access_token,
    });
    assert.deepEqual(seen.body.authorization_details, [detail]);
    assert.equal(seen.body.consent_id, claimsOf(payments.access_token).consent_id);
  });

  test('a code redeemed after its consent was revoked gives no token', async () => {
    const detail = accountAccess(10);
    const config = await world.rp(world.tpp);
    const { url, verifier, state } = await pushed(config, [detail]);
    const callback = await approve(url);
    const latest = (await consentsOf()).find(
      (c) => c.details[0]?.expirationDateTime === detail.expirationDateTime,
    );
    assert.equal(latest?.status, 'authorised');
    await server.app.services.consents.revoke(latest!.id, { type: 'user', id: world.person.id });
    const before = await written(server);
    await assert.rejects(
      oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      }),
      {
        error: 'invalid_grant',
        error_description: 'the consent behind this grant is no longer authorised',
      },
    );
    const after = await written(server);
    assert.equal(after.AccessToken, before.AccessToken);
    assert.equal(after.RefreshToken, before.RefreshToken);
  });

  test('a revoked consent: introspection inactive, refresh invalid_grant, nothing written', async () => {
    const detail = accountAccess(30);
    const { config, tokens } = await consentTo(world.tpp, [detail]);
    assert.ok(tokens.refresh_token);
    const consentId = (
      await postAs(server.url('/token/introspection'), world.accountsRs, {
        token: tokens.access_token,
      })
    ).body.consent_id as string;
    // A refresh while authorised carries the same details.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.deepEqual(refreshed.authorization_details, [detail]);

    await server.app.services.consents.revoke(consentId, { type: 'user', id: world.person.id });
    for (const token of [tokens.access_token, refreshed.access_token]) {
      const seen = await postAs(server.url('/token/introspection'), world.accountsRs, { token });
      assert.deepEqual(seen.body, { active: false });
    }
    const before = await written(server);
    await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token!), {
      error: 'invalid_grant',
      error_description: 'the consent behind this grant is no longer authorised',
    });
    assert.deepEqual(await written(server), before);
  });

  // The payment's JWT access token and its refresh token both show the consent's end.
  test('a consumed payment: its JWT and refresh token introspect inactive, its refresh fails', async () => {
    const { config, tokens } = await consentTo(world.tpp, [PAYMENT]);
    const consentId = claimsOf(tokens.access_token).consent_id as string;
    const introspectRefresh = () =>
      postAs(server.url('/token/introspection'), world.tpp, { token: tokens.refresh_token! });
    const introspectJwt = () =>
      postAs(server.url('/token/introspection'), world.tpp, { token: tokens.access_token });
    assert.equal((await introspectRefresh()).body.active, true);
    const jwt = (await introspectJwt()).body;
    assert.equal(jwt.active, true);
    assert.equal(jwt.consent_id, consentId);
    assert.equal(jwt.aud, PAYMENTS);
    assert.deepEqual(
      (jwt.authorization_details as { type: string }[]).map((d) => d.type),
      ['payment_initiation'],
    );
    await server.app.services.consents.consume(consentId, world.paymentsRs.id);
    assert.deepEqual((await introspectRefresh()).body, { active: false });
    assert.deepEqual((await introspectJwt()).body, { active: false });
    const before = await written(server);
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), {
      error: 'invalid_grant',
      error_description: 'the consent behind this grant is no longer authorised',
    });
    assert.deepEqual(await written(server), before);
  });

  test('the token endpoint may narrow to granted details, never widen', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const rp = await world.rp(world.tpp);
    const url = await oidc.buildAuthorizationUrlWithPAR(rp, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      authorization_details: JSON.stringify([PAYMENT]),
    });
    const callback = await approve(url);
    const before = await written(server);
    const other = { ...PAYMENT, instructedAmount: { currency: 'EUR', amount: '9999.00' } };
    await assert.rejects(
      oidc.authorizationCodeGrant(
        rp,
        callback,
        { pkceCodeVerifier: verifier, expectedState: state },
        { authorization_details: JSON.stringify([other]) },
      ),
      {
        error: 'invalid_authorization_details',
        error_description:
          'authorization_details: only details granted for this API may be requested',
      },
    );
    const after = await written(server);
    assert.equal(after.AccessToken, before.AccessToken);
    assert.equal(after.RefreshToken, before.RefreshToken);
  });

  test('a FAPI 2.0 client (PAR, private_key_jwt, DPoP) gets a payment token', async () => {
    const tpp = await createTpp(server, {
      profile: 'fapi2',
      apiAccess: { [PAYMENTS]: ['payments:write'] },
    });
    const config = await relyingParty(server, tpp);
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(
      config,
      {
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        authorization_details: JSON.stringify([PAYMENT]),
      },
      { DPoP: dpop },
    );
    const tokens = await oidc.authorizationCodeGrant(
      config,
      await approve(url),
      { pkceCodeVerifier: verifier, expectedState: state },
      undefined,
      { DPoP: dpop },
    );
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    assert.deepEqual(tokens.authorization_details, [PAYMENT]);
    const claims = claimsOf(tokens.access_token);
    assert.deepEqual(claims.authorization_details, [PAYMENT]);
    assert.match(String(claims.consent_id), /^cns_/);
    assert.ok(claims.cnf?.jkt, 'DPoP-bound');
  });
});
