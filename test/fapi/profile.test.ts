// The FAPI 2.0 profile per client (FAPI_PROFILE unset): a fapi2 client obtains tokens only
// through PAR, private_key_jwt and DPoP, its refresh tokens are not rotated; a default client on
// the same server behaves as before. Each refusal asserts the error and that nothing was issued.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { pkce } from '../support/browserless.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  assertionFields,
  clientKey,
  createTpp,
  fapiFlow,
  issuedCount,
  PAYMENTS,
  postForm,
  relyingParty,
  SCOPE,
  seedPayments,
  signIn,
  TPP_REDIRECT,
  type Tpp,
  tokenCount,
  tppInput,
} from './world.ts';

describe('FAPI 2.0 profile per client', () => {
  let server: TestServer;
  let person: { email: string };
  let tpp: Tpp;

  before(async () => {
    server = await startTestServer();
    person = await seedPayments(server);
    tpp = await createTpp(server);
  });
  after(() => server.close());

  test('a fapi2 client is stored with PAR and DPoP-bound tokens required, and shown as fapi2', async () => {
    const view = await server.app.services.clients.get(tpp.id);
    assert.equal(view?.profile, 'fapi2');
    const metadata = await server.app.services.clients.providerMetadata(tpp.id);
    assert.equal(metadata?.profile, 'fapi2');
    assert.equal(metadata?.require_pushed_authorization_requests, true);
    assert.equal(metadata?.dpop_bound_access_tokens, true);
  });

  test('happy path with openid-client: PAR + private_key_jwt + DPoP, DPoP-bound tokens, userinfo with DPoP', async () => {
    const { config, dpop, tokens, callback } = await fapiFlow(server, tpp, person.email);
    assert.equal(callback.searchParams.get('iss'), server.issuer, 'RFC 9207');
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    assert.ok(tokens.refresh_token);
    const codes = await server.db
      .knex('oidc_artifacts')
      .where({ model: 'AuthorizationCode', client_id: tpp.id })
      .select('payload');
    assert.ok(codes.length > 0);
    for (const { payload } of codes) assert.equal(payload.exp - payload.iat, 60, 'code lifetime');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, oidc.skipSubjectCheck, {
      DPoP: dpop,
    });
    assert.ok(info.sub);
  });

  test('a Bearer downgrade of a DPoP-bound access token at userinfo is refused', async () => {
    const { tokens } = await fapiFlow(server, tpp, person.email);
    const res = await fetch(server.url('/me'), {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(res.status, 401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /invalid_token/);
  });

  test('a plain authorization request (no PAR) is refused with invalid_request', async () => {
    const { challenge } = pkce();
    const url = new URL(server.url('/auth'));
    url.search = new URLSearchParams({
      client_id: tpp.id,
      response_type: 'code',
      redirect_uri: TPP_REDIRECT,
      scope: SCOPE,
      resource: PAYMENTS,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'st',
    }).toString();
    const before = await issuedCount(server, tpp.id);
    const { callback } = await signIn(server, url, person.email);
    assert.ok(callback, 'the error goes back to the registered redirect URI');
    assert.equal(callback.searchParams.get('error'), 'invalid_request');
    assert.equal(
      callback.searchParams.get('error_description'),
      'Pushed Authorization Request must be used',
    );
    assert.equal(callback.searchParams.get('code'), null);
    assert.equal(await issuedCount(server, tpp.id), before);
  });

  test('a request_uri pushed by another client is refused (an error page, no redirect)', async () => {
    const other = await createTpp(server);
    const { challenge } = pkce();
    const pushed = await postForm(server.url('/request'), {
      ...(await assertionFields(server, other)),
      response_type: 'code',
      redirect_uri: TPP_REDIRECT,
      scope: SCOPE,
      resource: PAYMENTS,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    assert.equal(pushed.status, 201);
    const requestUri = String(pushed.body.request_uri);
    const before = await issuedCount(server, tpp.id);
    const url = (clientId: string) =>
      server.url(`/auth?${new URLSearchParams({ client_id: clientId, request_uri: requestUri })}`);
    const foreign = await signIn(server, url(tpp.id), person.email);
    assert.equal(foreign.callback, undefined, 'no redirect with a foreign request');
    assert.equal(foreign.page.status, 400);
    assert.match(foreign.page.html, /<code>invalid_request_object<\/code>/);
    assert.match(foreign.page.html, /request client_id must equal the one in request parameters/);
    assert.equal(await issuedCount(server, tpp.id), before);
  });

  test('a token request without a DPoP proof is refused (invalid_grant) and issues nothing', async () => {
    const config = await relyingParty(server, tpp);
    const verifier = oidc.randomPKCECodeVerifier();
    // The PAR itself carries no DPoP header either: the code is bound to nothing.
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: TPP_REDIRECT,
      scope: SCOPE,
      resource: PAYMENTS,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const { callback } = await signIn(server, url, person.email);
    const code = callback?.searchParams.get('code');
    assert.ok(code);
    const before = await tokenCount(server, tpp.id);
    const res = await postForm(server.url('/token'), {
      grant_type: 'authorization_code',
      code,
      redirect_uri: TPP_REDIRECT,
      code_verifier: verifier,
      ...(await assertionFields(server, tpp)),
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_grant');
    assert.equal(res.body.error_description, 'grant request is invalid');
    assert.equal(await tokenCount(server, tpp.id), before);
  });

  test('a fapi2 client presenting a secret at the token endpoint is refused (invalid_client)', async () => {
    const before = await tokenCount(server, tpp.id);
    const basic = `Basic ${Buffer.from(`${tpp.id}:guessed-secret`).toString('base64')}`;
    const secretIn = { client_id: tpp.id, client_secret: 'guessed-secret' };
    // client_secret_basic, then client_secret_post.
    for (const [headers, fields] of [
      [{ authorization: basic }, {}],
      [{}, secretIn],
    ] as const) {
      const form = { grant_type: 'refresh_token', refresh_token: 'x', ...fields };
      const res = await postForm(server.url('/token'), form, headers);
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'invalid_client');
      assert.equal(res.body.error_description, 'client authentication failed');
    }
    assert.equal(await tokenCount(server, tpp.id), before);
  });

  test('a fapi2 refresh token is not rotated: the earlier one keeps working', async () => {
    const { config, dpop, tokens } = await fapiFlow(server, tpp, person.email);
    const first = tokens.refresh_token!;
    const refreshed = await oidc.refreshTokenGrant(config, first, undefined, { DPoP: dpop });
    assert.equal(refreshed.refresh_token ?? first, first);
    const again = await oidc.refreshTokenGrant(config, first, undefined, { DPoP: dpop });
    assert.ok(again.access_token);
  });

  test('a default client on the same server: no PAR needed, Bearer tokens, refresh tokens rotated', async () => {
    const plain = await createTpp(server, {});
    assert.equal((await server.app.services.clients.get(plain.id))?.profile, 'default');
    const config = await relyingParty(server, plain);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: TPP_REDIRECT,
      scope: SCOPE,
      resource: PAYMENTS,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const { callback } = await signIn(server, url, person.email);
    assert.ok(callback?.searchParams.get('code'));
    const tokens = await oidc.authorizationCodeGrant(config, callback!, {
      pkceCodeVerifier: verifier,
      idTokenExpected: true,
    });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    const first = tokens.refresh_token!;
    const refreshed = await oidc.refreshTokenGrant(config, first);
    assert.notEqual(refreshed.refresh_token, first, 'rotated');
    await assert.rejects(oidc.refreshTokenGrant(config, first), { error: 'invalid_grant' });
  });

  test('a fapi2 client with a secret or no authentication is refused at registration', async () => {
    const { publicJwk } = await clientKey();
    for (const authMethod of ['client_secret_basic', 'client_secret_post', 'none'] as const) {
      await assert.rejects(
        server.app.services.clients.create({
          ...tppInput(publicJwk, { profile: 'fapi2' }),
          authMethod,
          jwks: undefined,
        }),
        (err: Error & { field?: string }) => {
          assert.equal(err.name, 'DomainError');
          assert.equal(err.field, 'authMethod');
          assert.match(err.message, /a fapi2 client authenticates with private_key_jwt/);
          return true;
        },
      );
    }
  });
});
