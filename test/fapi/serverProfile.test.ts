// FAPI_PROFILE=2.0: every client is a FAPI 2.0 client. Discovery tells so, clients are created
// fapi2 (another profile, a secret or a public client refused), a client stored before the
// setting (a secret client, a private_key_jwt one) is held to the profile when it is loaded, and
// codes live 60 s. Each refusal asserts the error and that nothing was issued.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { ACCOUNT_CLIENT_ID } from '../../src/interactions/account.ts';
import { pkce } from '../support/browserless.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startTestServer, type TestServer, testSecrets } from '../support/server.ts';
import {
  clientKey,
  createTpp,
  fapiFlow,
  issuedCount,
  PAYMENTS,
  postForm,
  SCOPE,
  seedPayments,
  signIn,
  TPP_REDIRECT,
  type Tpp,
  tokenCount,
  tppInput,
} from './world.ts';

test('FAPI_PROFILE takes 2.0 or nothing', () => {
  const base = testSecrets();
  assert.equal(loadConfig({ ...base, FAPI_PROFILE: '2.0' }).fapiProfile, '2.0');
  assert.equal(loadConfig(base).fapiProfile, undefined);
  assert.equal(loadConfig({ ...base, FAPI_PROFILE: '' }).fapiProfile, undefined);
  for (const value of ['1.0', '2', 'fapi2'])
    assert.throws(() => loadConfig({ ...base, FAPI_PROFILE: value }), {
      name: 'ConfigError',
      message:
        'Invalid configuration: FAPI_PROFILE must be 2.0 (or unset: each client has its own profile)',
    });
});

describe('FAPI_PROFILE=2.0', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let server: TestServer;
  let person: { email: string };
  /** Clients stored before FAPI_PROFILE was set: a secret one and a private_key_jwt one. */
  let legacySecret: { id: string; secret: string };
  let legacyJwt: Tpp;

  before(async () => {
    db = await createTestDatabase();
    env = testSecrets();
    const plain = await startTestServer({ db, env });
    person = await seedPayments(plain);
    const created = await plain.app.services.clients.create({
      name: 'Old web app',
      grantTypes: ['authorization_code', 'client_credentials'],
      redirectUris: [TPP_REDIRECT],
      authMethod: 'client_secret_basic',
      apiAccess: { [PAYMENTS]: ['payments:write'] },
    });
    legacySecret = { id: created.client.clientId, secret: created.secret! };
    legacyJwt = await createTpp(plain, {});
    assert.ok(await plain.app.services.clients.get(ACCOUNT_CLIENT_ID));
    await plain.close();
    server = await startTestServer({ db, env: { ...env, FAPI_PROFILE: '2.0' } });
  });
  after(async () => {
    await server.close();
    await db.drop();
  });

  test('discovery tells the truth: PAR required, no secrets nor public clients, FAPI algorithms', async () => {
    const res = await fetch(server.url('/.well-known/openid-configuration'));
    // biome-ignore lint/suspicious/noExplicitAny: the discovery document
    const meta = (await res.json()) as Record<string, any>;
    assert.equal(meta.require_pushed_authorization_requests, true);
    assert.ok(meta.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
    for (const method of ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'none'])
      assert.ok(!meta.token_endpoint_auth_methods_supported.includes(method), method);
    for (const key of [
      'token_endpoint_auth_signing_alg_values_supported',
      'dpop_signing_alg_values_supported',
    ]) {
      assert.deepEqual(meta[key], ['PS256', 'ES256', 'Ed25519', 'EdDSA'], key);
    }
    assert.deepEqual(meta.response_types_supported, ['code']);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.equal(meta.authorization_response_iss_parameter_supported, true);
  });

  test('a client is created fapi2 without asking; another profile, a secret or a public client is refused', async () => {
    const { clients } = server.app.services;
    const tpp = await createTpp(server, {});
    const view = await clients.get(tpp.id);
    assert.equal(view?.profile, 'fapi2');
    assert.equal((await clients.providerMetadata(tpp.id))?.dpop_bound_access_tokens, true);

    const { publicJwk } = await clientKey();
    const before = (await clients.list()).length;
    await assert.rejects(clients.create(tppInput(publicJwk, { profile: 'default' })), {
      name: 'DomainError',
      field: 'profile',
      message: 'FAPI_PROFILE=2.0 makes every client fapi2',
    });
    for (const authMethod of ['client_secret_basic', 'none'] as const) {
      await assert.rejects(
        clients.create({ ...tppInput(publicJwk), authMethod, jwks: undefined }),
        {
          name: 'DomainError',
          field: 'authMethod',
          message: `a fapi2 client authenticates with private_key_jwt, tls_client_auth, self_signed_tls_client_auth (not ${authMethod})`,
        },
      );
    }
    assert.equal((await clients.list()).length, before, 'nothing was stored');
  });

  test('the account page has no client (it would be a public one) and says it is not available', async () => {
    assert.equal(await server.app.services.clients.get(ACCOUNT_CLIENT_ID), undefined);
    const res = await fetch(server.url('/account'), { redirect: 'manual' });
    assert.equal(res.status, 404);
    assert.match(await res.text(), /signs people in only for the applications registered with it/);
  });

  test('happy path: PAR + private_key_jwt + DPoP; the code lived at most 60 s', async () => {
    const tpp = await createTpp(server, {});
    const { tokens } = await fapiFlow(server, tpp, person.email);
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    const [code] = await server.db
      .knex('oidc_artifacts')
      .where({ model: 'AuthorizationCode', client_id: tpp.id })
      .select('payload');
    assert.ok(code);
    assert.equal(code.payload.exp - code.payload.iat, 60);
  });

  test('a secret client stored before is refused at the token endpoint; nothing is issued', async () => {
    const before = await tokenCount(server, legacySecret.id);
    const res = await postForm(
      server.url('/token'),
      { grant_type: 'client_credentials', resource: PAYMENTS },
      {
        authorization: `Basic ${Buffer.from(`${legacySecret.id}:${legacySecret.secret}`).toString('base64')}`,
      },
    );
    assert.equal(res.status, 401);
    assert.equal(res.body.error, 'invalid_client');
    assert.equal(res.body.error_description, 'client authentication failed');
    assert.equal(await tokenCount(server, legacySecret.id), before);
  });

  test('a private_key_jwt client stored before must now use PAR: a plain request is refused', async () => {
    assert.equal((await server.app.services.clients.get(legacyJwt.id))?.profile, 'fapi2');
    const { challenge } = pkce();
    const url = new URL(server.url('/auth'));
    url.search = new URLSearchParams({
      client_id: legacyJwt.id,
      response_type: 'code',
      redirect_uri: TPP_REDIRECT,
      scope: SCOPE,
      resource: PAYMENTS,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    const before = await issuedCount(server, legacyJwt.id);
    const { callback } = await signIn(server, url, person.email);
    assert.equal(callback?.searchParams.get('error'), 'invalid_request');
    assert.equal(
      callback?.searchParams.get('error_description'),
      'Pushed Authorization Request must be used',
    );
    assert.equal(await issuedCount(server, legacyJwt.id), before);
    // ...and through PAR, it gets DPoP-bound tokens like any fapi2 client.
    const { tokens } = await fapiFlow(server, legacyJwt, person.email);
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
  });
});
