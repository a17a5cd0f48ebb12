// OpenID Connect Core's musts over real HTTP with openid-client: the authorization endpoint takes
// POST (§3.1.2.1) as well as GET, behind the same input guard; a confidential client registered
// with PKCE optional may leave it out, every other client may not, and neither a public nor a
// fapi2 client can be registered so (exact errors, nothing written).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import { DomainError } from '../../src/errors.ts';
import type { ClientInput } from '../../src/oidc/clients.ts';
import { findForm, HttpBrowser, type Page, pkce } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const REDIRECT = 'https://rp.example/callback';
const EMAIL = 'alice@example.com';

type Secretive = { id: string; secret: string };

describe('OpenID Connect Core: POST at the authorization endpoint, PKCE optional per client', () => {
  let server: TestServer;
  /** A confidential RP with PKCE required (the default). */
  let strict: Secretive;
  /** A confidential RP registered with PKCE optional. */
  let legacy: Secretive;

  const rp = (c: Secretive) =>
    oidc.discovery(
      new URL(server.issuer),
      c.id,
      { redirect_uris: [REDIRECT] },
      oidc.ClientSecretBasic(c.secret),
      { execute: [oidc.allowInsecureRequests] },
    );
  const artifactCount = async () =>
    Number(
      ((await server.app.db.knex('oidc_artifacts').count({ n: '*' }).first()) as { n: string }).n,
    );
  const clientCount = async () => (await server.app.services.clients.list()).length;

  /** Signs in on the pages the flow lands on; the page that leaves for the client. */
  async function signIn(browser: HttpBrowser, page: Page): Promise<Page> {
    let at = page;
    if (at.html.includes('/login"'))
      at = await browser.submit(
        at,
        /\/login$/,
        { email: EMAIL, password: PASSWORD },
        server.issuer,
      );
    if (at.html.includes('/consent"'))
      at = await browser.submit(at, /\/consent$/, { decision: 'approve' }, server.issuer);
    return at;
  }

  const client = (name: string, extra: Partial<ClientInput> = {}) =>
    server.app.services.clients.create({
      name,
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECT],
      authMethod: 'client_secret_basic',
      apiAccess: {},
      firstParty: true,
      ...extra,
    });

  before(async () => {
    server = await startTestServer();
    await server.app.services.accounts.create({ email: EMAIL, password: PASSWORD });
    const a = await client('Strict RP');
    strict = { id: a.client.clientId, secret: a.secret! };
    const b = await client('Legacy RP', { pkce: 'optional' });
    legacy = { id: b.client.clientId, secret: b.secret! };
    assert.equal(b.client.pkce, 'optional');
    assert.equal(a.client.pkce, 'required');
  });
  after(() => server.close());

  test('POST /auth (a form post of the request) completes a sign-in; openid-client redeems the code', async () => {
    const config = await rp(strict);
    const { verifier, challenge } = pkce();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const browser = new HttpBrowser();
    const posted = await browser.request(server.url('/auth'), {
      form: {
        client_id: strict.id,
        response_type: 'code',
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state,
        nonce,
      },
    });
    assert.equal(posted.status, 303, 'the request is taken, not refused');
    const out = await signIn(browser, await browser.follow(posted, server.issuer));
    assert.ok(out.location?.startsWith(REDIRECT), `stopped at ${out.status}: ${out.html}`);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(out.location!), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    assert.ok(tokens.claims()?.sub);
    // RP-initiated logout by POST too: the confirmation page with its form.
    const logout = await browser.request(server.url('/session/end'), {
      form: { client_id: strict.id },
    });
    assert.equal(logout.status, 200);
    assert.ok(findForm(logout.html, /\/session\/end\/confirm$/));
  });

  test('POST /auth goes through the same input guard: a NUL in the body is a 400 page', async () => {
    const before = await artifactCount();
    const res = await fetch(server.url('/auth'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: `client_id=${strict.id}&response_type=code&scope=openid%00`,
    });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /the request body contains a NUL character/);
    assert.equal(await artifactCount(), before);
  });

  test('POST /auth takes a form body only, and not with a query beside it (exact errors, nothing written)', async () => {
    const before = await artifactCount();
    const json = await fetch(server.url('/auth'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/html' },
      body: JSON.stringify({ client_id: strict.id }),
    });
    assert.equal(json.status, 415);
    assert.match(
      await json.text(),
      /Send the request as application\/x-www-form-urlencoded, or with GET\./,
    );
    const both = await fetch(server.url(`/auth?client_id=${strict.id}`), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: 'response_type=code',
    });
    assert.equal(both.status, 400);
    assert.match(
      await both.text(),
      /Send the parameters either in the query or in the body, not both\./,
    );
    assert.equal(await artifactCount(), before);
  });

  test('a confidential client with PKCE optional signs in without code_challenge', async () => {
    const config = await rp(legacy);
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      state,
      nonce,
    });
    assert.equal(url.searchParams.get('code_challenge'), null);
    const browser = new HttpBrowser();
    const out = await signIn(browser, await browser.open(url.href, server.issuer));
    assert.ok(out.location?.startsWith(REDIRECT), `stopped at ${out.status}: ${out.html}`);
    const back = new URL(out.location!);
    assert.ok(back.searchParams.get('code'), back.href);
    const tokens = await oidc.authorizationCodeGrant(config, back, {
      expectedState: state,
      expectedNonce: nonce,
    });
    assert.ok(tokens.access_token);
    assert.ok(tokens.claims()?.sub);
  });

  test('a default client without code_challenge is refused (exact error), nothing written', async () => {
    const config = await rp(strict);
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      state,
    });
    const before = await artifactCount();
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 303);
    const back = new URL(res.headers.get('location')!);
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT);
    assert.equal(back.searchParams.get('error'), 'invalid_request');
    assert.equal(
      back.searchParams.get('error_description'),
      'Authorization Server policy requires PKCE to be used for this request',
    );
    assert.equal(back.searchParams.get('state'), state);
    assert.equal(await artifactCount(), before);
  });

  test('a public client cannot be registered with PKCE optional (exact error), nothing written', async () => {
    const before = await clientCount();
    await assert.rejects(
      client('Mobile app', { authMethod: 'none', pkce: 'optional' }),
      (err: unknown) => {
        assert.ok(err instanceof DomainError);
        assert.equal(err.code, 'invalid_input');
        assert.equal(err.field, 'pkce');
        assert.equal(
          err.message,
          'PKCE can be optional only for a confidential client: a public client always uses PKCE',
        );
        return true;
      },
    );
    assert.equal(await clientCount(), before);
  });

  test('a fapi2 client cannot be registered with PKCE optional (exact error), nothing written', async () => {
    const { publicKey } = await generateKeyPair('ES256');
    const before = await clientCount();
    await assert.rejects(
      client('Payments TPP', {
        authMethod: 'private_key_jwt',
        jwks: { keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' }] },
        profile: 'fapi2',
        pkce: 'optional',
      }),
      (err: unknown) => {
        assert.ok(err instanceof DomainError);
        assert.equal(err.field, 'pkce');
        assert.equal(err.message, 'a fapi2 client always uses PKCE: it cannot be optional');
        return true;
      },
    );
    assert.equal(await clientCount(), before);
  });
});
