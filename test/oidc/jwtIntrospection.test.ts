// Introspection (RFC 7662) and revocation (RFC 7009) of Portcullis' own JWT access tokens, over
// real HTTP with openid-client as the caller: active while verified, unexpired, for the caller's
// API and not revoked; { active: false } (never a 400) for anything else.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  importJWK,
  type JWTHeaderParameters,
  SignJWT,
} from 'jose';
import * as oidc from 'openid-client';
import { HttpBrowser, loginForCode } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const STATEMENTS = 'https://statements.api.example';
const CARDS = 'https://cards.api.example';
const REDIRECT = 'https://app.example/callback';

type Secretive = { id: string; secret: string };

describe('introspection and revocation of JWT access tokens', () => {
  let server: TestServer;
  let aliceId: string;
  let web: Secretive;
  let statementsRs: Secretive;
  let cardsRs: Secretive;
  let batch: Secretive;

  const rp = (c: Secretive) =>
    oidc.discovery(
      new URL(server.issuer),
      c.id,
      { redirect_uris: [REDIRECT] },
      oidc.ClientSecretBasic(c.secret),
      { execute: [oidc.allowInsecureRequests] },
    );
  const introspect = async (c: Secretive, token: string) =>
    oidc.tokenIntrospection(await rp(c), token);
  const revokedRows = async () =>
    (await server.app.db.knex('revoked_jwts').select('jti', 'client_id')) as {
      jti: string;
      client_id: string;
    }[];

  /** Alice signs in to the web app and gets a JWT access token for STATEMENTS. */
  async function aliceToken(): Promise<string> {
    const browser = new HttpBrowser();
    const { redirect, verifier } = await loginForCode(browser, {
      issuer: server.issuer,
      clientId: web.id,
      redirectUri: REDIRECT,
      scope: 'openid statements:read',
      resource: STATEMENTS,
      email: 'alice@example.com',
      password: PASSWORD,
    });
    assert.ok(redirect, 'signed in');
    const tokens = await oidc.authorizationCodeGrant(
      await rp(web),
      redirect,
      { pkceCodeVerifier: verifier, expectedState: redirect.searchParams.get('state')! },
      { resource: STATEMENTS },
    );
    assert.equal(tokens.access_token.split('.').length, 3, 'a JWT access token');
    return tokens.access_token;
  }

  before(async () => {
    server = await startTestServer();
    const { catalogue, clients, accounts, roles } = server.app.services;
    const statementsId = (
      await catalogue.create({
        identifier: STATEMENTS,
        tokenFormat: 'jwt',
        scopes: [{ name: 'statements:read', description: 'Read statements' }],
      })
    ).id;
    const cardsId = (
      await catalogue.create({
        identifier: CARDS,
        tokenFormat: 'jwt',
        scopes: [{ name: 'cards:read', description: 'Read cards' }],
      })
    ).id;
    await roles.create({ name: 'customer', scopes: ['statements:read'] });
    aliceId = (
      await accounts.create({ email: 'alice@example.com', password: PASSWORD, roles: ['customer'] })
    ).id;
    const machine = async (name: string, apiAccess: Record<string, string[]>) => {
      const { client, secret } = await clients.create({
        name,
        grantTypes: ['client_credentials'],
        authMethod: 'client_secret_basic',
        apiAccess,
      });
      return { id: client.clientId, secret: secret! };
    };
    statementsRs = await machine('Statements API', { [STATEMENTS]: ['statements:read'] });
    cardsRs = await machine('Cards API', { [CARDS]: ['cards:read'] });
    batch = await machine('Nightly batch', { [STATEMENTS]: ['statements:read'] });
    const webClient = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECT],
      authMethod: 'client_secret_basic',
      apiAccess: { [STATEMENTS]: ['statements:read'] },
      firstParty: true,
    });
    web = { id: webClient.client.clientId, secret: webClient.secret! };
    await catalogue.update(statementsId, { resourceServers: [statementsRs.id] });
    await catalogue.update(cardsId, { resourceServers: [cardsRs.id] });
  });
  after(() => server.close());

  test("the API's resource server and the client see a person's JWT active, with its claims", async () => {
    const jwt = await aliceToken();
    const claims = decodeJwt(jwt);
    assert.equal(typeof claims.grant_id, 'string', 'the JWT names its grant');
    const seen = await introspect(statementsRs, jwt);
    assert.equal(seen.active, true);
    assert.equal(seen.sub, aliceId);
    assert.equal(seen.client_id, web.id);
    assert.equal(seen.aud, STATEMENTS);
    assert.equal(seen.scope, 'statements:read');
    assert.equal(seen.exp, claims.exp);
    assert.equal(seen.iss, server.issuer);
    assert.equal(seen.token_type, 'Bearer');
    assert.equal(seen.grant_id, undefined, 'the grant id stays out of the answer');
    assert.equal((await introspect(web, jwt)).active, true);
  });

  test("another API's resource server and an unrelated client learn nothing: { active: false }", async () => {
    const jwt = await aliceToken();
    assert.deepEqual(await introspect(cardsRs, jwt), { active: false });
    assert.deepEqual(await introspect(batch, jwt), { active: false });
  });

  test('a client credentials JWT is active for its client and the API, not for another API', async () => {
    const token = (await oidc.clientCredentialsGrant(await rp(batch), { resource: STATEMENTS }))
      .access_token;
    assert.equal(token.split('.').length, 3);
    const own = await introspect(batch, token);
    assert.equal(own.active, true);
    assert.equal(own.client_id, batch.id);
    assert.equal(own.sub, undefined);
    assert.equal((await introspect(statementsRs, token)).active, true);
    assert.deepEqual(await introspect(cardsRs, token), { active: false });
  });

  test('an expired, a foreign-signed or a garbage JWT is { active: false }, never a 400', async () => {
    const jwt = await aliceToken();
    const header = decodeProtectedHeader(jwt) as JWTHeaderParameters;
    const claims = decodeJwt(jwt);
    const ring = await server.app.services.signingKeys.loadRing();
    const jwk = ring!.jwks.find((k) => k.kid === header.kid)!;
    const ourKey = await importJWK(jwk, header.alg);
    const now = Math.floor(Date.now() / 1000);
    // The same token, signed by this server's own key, but expired an hour ago.
    const expired = await new SignJWT({ ...claims, iat: now - 7200, exp: now - 3600 })
      .setProtectedHeader(header)
      .sign(ourKey);
    // The same claims signed by a stranger's key that claims this server's kid.
    const { privateKey } = await generateKeyPair(header.alg);
    const foreign = await new SignJWT(claims).setProtectedHeader(header).sign(privateKey);
    const forged = `${jwt.split('.').slice(0, 2).join('.')}.${foreign.split('.')[2]}`;
    for (const [what, token] of Object.entries({
      expired,
      foreign,
      forged,
      garbage: 'eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln',
      'a handle-like id': `jwt~x~${jwt}`,
    })) {
      const res = await fetch(server.url('/token/introspection'), {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${statementsRs.id}:${statementsRs.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token }),
      });
      assert.equal(res.status, 200, what);
      assert.deepEqual(await res.json(), { active: false }, what);
    }
    // The genuine token is still active.
    assert.equal((await introspect(statementsRs, jwt)).active, true);
  });

  test('a revoked grant makes its JWTs inactive', async () => {
    const jwt = await aliceToken();
    assert.equal((await introspect(statementsRs, jwt)).active, true);
    const revoked = await server.app.services.grants.revokeGrant(String(decodeJwt(jwt).grant_id));
    assert.ok(revoked > 0);
    assert.deepEqual(await introspect(statementsRs, jwt), { active: false });
    assert.deepEqual(await introspect(web, jwt), { active: false });
  });

  test("signing out everywhere (every grant of the account) makes the person's JWTs inactive", async () => {
    const first = await aliceToken();
    const second = await aliceToken();
    await server.app.services.grants.revokeAll(aliceId);
    assert.deepEqual(await introspect(statementsRs, first), { active: false });
    assert.deepEqual(await introspect(statementsRs, second), { active: false });
  });

  test('the revocation endpoint revokes a JWT by its jti until it expires; the grant stays', async () => {
    const jwt = await aliceToken();
    const sibling = await aliceToken();
    const { jti, exp } = decodeJwt(jwt);
    // Someone else's client cannot revoke it: 200 (RFC 7009), nothing written.
    await oidc.tokenRevocation(await rp(batch), jwt);
    assert.deepEqual(
      (await revokedRows()).filter((r) => r.jti === jti),
      [],
    );
    assert.equal((await introspect(statementsRs, jwt)).active, true);

    await oidc.tokenRevocation(await rp(web), jwt);
    assert.deepEqual(
      (await revokedRows()).filter((r) => r.jti === jti),
      [{ jti, client_id: web.id }],
    );
    assert.deepEqual(await introspect(statementsRs, jwt), { active: false });
    assert.deepEqual(await introspect(web, jwt), { active: false });
    // Revoking an access token leaves its grant (and its other tokens) alone.
    assert.equal((await introspect(statementsRs, sibling)).active, true);
    // Revoking it again changes nothing.
    await oidc.tokenRevocation(await rp(web), jwt);
    assert.equal((await revokedRows()).filter((r) => r.jti === jti).length, 1);

    // The sweep keeps the jti while the token lives, and deletes it once the token has expired.
    await server.app.sweep();
    assert.equal((await revokedRows()).filter((r) => r.jti === jti).length, 1);
    await server.app.db
      .knex('revoked_jwts')
      .where({ jti })
      .update({ expires_at: new Date((exp! - 3600) * 1000) });
    await server.app.sweep();
    assert.deepEqual(
      (await revokedRows()).filter((r) => r.jti === jti),
      [],
    );
  });

  test('a garbage JWT at the revocation endpoint answers 200 and writes nothing', async () => {
    const before = (await revokedRows()).length;
    const res = await fetch(server.url('/token/revocation'), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${web.id}:${web.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln' }),
    });
    assert.equal(res.status, 200);
    assert.equal((await revokedRows()).length, before);
  });

  test("revoking what a person allowed a client (the account page's path) makes those JWTs inactive", async () => {
    const jwt = await aliceToken();
    assert.equal((await introspect(statementsRs, jwt)).active, true);
    assert.ok((await server.app.services.grants.revokeClient(aliceId, web.id)) > 0);
    assert.deepEqual(await introspect(statementsRs, jwt), { active: false });
  });

  test('a handle is good only at introspection: the JWT as a bearer at userinfo stays refused', async () => {
    const jwt = await aliceToken();
    const res = await fetch(server.url('/me'), {
      headers: { authorization: `Bearer jwt~x~${jwt}` },
    });
    assert.equal(res.status, 401);
  });

  test("deleting the client makes its JWTs inactive for the API's resource server", async () => {
    const jwt = await aliceToken();
    assert.equal((await introspect(statementsRs, jwt)).active, true);
    await server.app.services.clients.delete(web.id);
    assert.deepEqual(await introspect(statementsRs, jwt), { active: false });
  });
});
