// The client assertion rules of the fapi2 profile (src/oidc/profiles.ts), at the PAR endpoint
// where a FAPI client first authenticates: aud the issuer as a string, sub the client_id, iat/nbf
// at most 60 s ahead (10 s ahead accepted), a signature the client registered. A default client
// keeps the library's rules (an endpoint URL as aud is fine). A refused PAR stores nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { pkce } from '../support/browserless.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  clientAssertion,
  createTpp,
  PAYMENTS,
  postForm,
  SCOPE,
  seedPayments,
  TPP_REDIRECT,
  type Tpp,
} from './world.ts';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

describe('client assertions of a fapi2 client', () => {
  let server: TestServer;
  let tpp: Tpp;
  let plain: Tpp;

  before(async () => {
    server = await startTestServer();
    await seedPayments(server);
    tpp = await createTpp(server);
    plain = await createTpp(server, {});
  });
  after(() => server.close());

  const parRows = async () =>
    Number(
      (
        await server.db
          .knex('oidc_artifacts')
          .where({ model: 'PushedAuthorizationRequest' })
          .count('* as n')
          .first()
      )?.n,
    );

  /** A PAR authenticated with this assertion; status and body, and whether a request was stored. */
  async function par(client: Tpp, assertion: string) {
    const before = await parRows();
    const res = await postForm(server.url('/request'), {
      client_id: client.id,
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: assertion,
      response_type: 'code',
      redirect_uri: TPP_REDIRECT,
      scope: SCOPE,
      resource: PAYMENTS,
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    });
    return { ...res, stored: (await parRows()) - before };
  }

  /** The PAR is refused as the library answers every failed client authentication. */
  async function refused(assertion: string, why: string) {
    const res = await par(tpp, assertion);
    assert.equal(res.status, 401, `${why}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error, 'invalid_client', why);
    assert.equal(res.body.error_description, 'client authentication failed', why);
    assert.equal(res.stored, 0, `${why}: nothing stored`);
  }

  const now = () => Math.floor(Date.now() / 1000);

  test('a conforming assertion is accepted (201, one request stored)', async () => {
    const res = await par(tpp, await clientAssertion(server, tpp));
    assert.equal(res.status, 201);
    assert.match(String(res.body.request_uri), /^urn:ietf:params:oauth:request_uri:/);
    assert.equal(res.stored, 1);
  });

  test('aud as an array, even holding the issuer, is refused', async () => {
    await refused(
      await clientAssertion(server, tpp, { aud: [server.issuer] }),
      'audience (aud) must be the issuer identifier, as a string',
    );
  });

  test('aud the PAR or token endpoint URL is refused (a default client may use it)', async () => {
    for (const endpoint of ['/request', '/token'])
      await refused(
        await clientAssertion(server, tpp, { aud: server.url(endpoint) }),
        'audience (aud) must be the issuer identifier, as a string',
      );
    const res = await par(
      plain,
      await clientAssertion(server, plain, { aud: server.url('/request') }),
    );
    assert.equal(res.status, 201);
  });

  test('no sub, or another sub, is refused', async () => {
    await refused(await clientAssertion(server, tpp, { sub: undefined }), 'no sub');
    // The library reads the client from sub: another one contradicts client_id.
    const other = await par(tpp, await clientAssertion(server, tpp, { sub: plain.id }));
    assert.equal(other.status, 400);
    assert.deepEqual(other.body, {
      error: 'invalid_request',
      error_description: 'client_id mismatch',
    });
    assert.equal(other.stored, 0);
  });

  test('exp in the past is refused; no exp is refused', async () => {
    await refused(await clientAssertion(server, tpp, { iat: now() - 120, exp: now() - 60 }), 'exp');
    await refused(await clientAssertion(server, tpp, { exp: undefined }), 'exp');
  });

  test('nbf and iat 8-10 s ahead are accepted; more than 60 s ahead (75 s) refused', async () => {
    const ahead = await par(
      tpp,
      await clientAssertion(server, tpp, { nbf: now() + 8, iat: now() + 10, exp: now() + 70 }),
    );
    assert.equal(ahead.status, 201);
    await refused(await clientAssertion(server, tpp, { nbf: now() + 75, exp: now() + 120 }), 'nbf');
    await refused(await clientAssertion(server, tpp, { iat: now() + 75, exp: now() + 120 }), 'iat');
  });

  test('the same assertion twice: the second is refused (replay)', async () => {
    const assertion = await clientAssertion(server, tpp);
    assert.equal((await par(tpp, assertion)).status, 201);
    await refused(assertion, 'replay');
  });

  test('RS256, or a key the client did not register, is refused', async () => {
    const rsa = await generateKeyPair('RS256');
    const header = { alg: 'RS256', kid: tpp.kid };
    const payload = {
      iss: tpp.id,
      sub: tpp.id,
      aud: server.issuer,
      jti: crypto.randomUUID(),
      iat: now(),
      exp: now() + 60,
    };
    await refused(
      await new SignJWT(payload).setProtectedHeader(header).sign(rsa.privateKey),
      'RS256',
    );
    const other = await generateKeyPair('ES256');
    await refused(
      await new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', kid: tpp.kid })
        .sign(other.privateKey),
      'signature',
    );
  });
});
