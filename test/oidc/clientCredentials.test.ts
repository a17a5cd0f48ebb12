// Client credentials against a running server with openid-client as the client: JWT and opaque
// tokens for catalogue APIs, introspection, revocation, and the OAuth errors for bad requests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { startTestServer, type TestServer } from '../support/server.ts';

const ACCOUNTS = 'https://accounts.api.example';
const LEDGER = 'https://ledger.api.example';

describe('client credentials', () => {
  let server: TestServer;
  let basic: { id: string; secret: string };

  const discover = (
    clientId: string,
    auth: oidc.ClientAuth,
    metadata: Partial<oidc.ClientMetadata> = {},
  ) =>
    oidc.discovery(new URL(server.issuer), clientId, metadata, auth, {
      execute: [oidc.allowInsecureRequests],
    });

  before(async () => {
    server = await startTestServer();
    const { catalogue, clients } = server.app.services;
    await catalogue.create({
      identifier: ACCOUNTS,
      name: 'Accounts',
      tokenFormat: 'jwt',
      accessTokenTtl: 300,
      scopes: [
        { name: 'accounts:read', description: 'Read accounts' },
        { name: 'accounts:write', description: 'Change accounts' },
      ],
    });
    await catalogue.create({
      identifier: LEDGER,
      name: 'Ledger',
      tokenFormat: 'opaque',
      scopes: [{ name: 'ledger:read', description: 'Read the ledger' }],
    });
    const created = await clients.create({
      name: 'Batch job',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [ACCOUNTS]: ['accounts:read'], [LEDGER]: ['ledger:read'] },
    });
    basic = { id: created.client.clientId, secret: created.secret! };
  });
  after(() => server.close());

  test('discovery validates and advertises what Portcullis supports', async () => {
    const config = await discover(basic.id, oidc.ClientSecretBasic(basic.secret));
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, server.issuer);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(meta.response_types_supported, ['code']);
    assert.equal(meta.authorization_response_iss_parameter_supported, true);
    assert.ok(meta.pushed_authorization_request_endpoint);
    assert.ok(meta.introspection_endpoint && meta.revocation_endpoint && meta.userinfo_endpoint);
    assert.ok(meta.dpop_signing_alg_values_supported?.includes('ES256'));
  });

  test('without scope, the token carries every scope the client is allowed on the API', async () => {
    const config = await discover(basic.id, oidc.ClientSecretBasic(basic.secret));
    const tokens = await oidc.clientCredentialsGrant(config, { resource: ACCOUNTS });
    assert.equal(tokens.scope, 'accounts:read');
  });

  test('a JWT access token for the API, scoped to what was asked and allowed, verifying against JWKS', async () => {
    const config = await discover(basic.id, oidc.ClientSecretBasic(basic.secret));
    const tokens = await oidc.clientCredentialsGrant(config, {
      scope: 'accounts:read',
      resource: ACCOUNTS,
    });
    assert.equal(tokens.scope, 'accounts:read');
    const jwks = createRemoteJWKSet(new URL(server.url('/jwks')));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: server.issuer,
      audience: ACCOUNTS,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.scope, 'accounts:read');
    assert.equal(payload.client_id, basic.id);
    assert.equal(tokens.expires_in, 300);
  });

  test('without a resource, the API is chosen by the scope asked for', async () => {
    const config = await discover(basic.id, oidc.ClientSecretBasic(basic.secret));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'accounts:read' });
    const { payload } = await jwtVerify(
      tokens.access_token,
      createRemoteJWKSet(new URL(server.url('/jwks'))),
    );
    assert.equal(payload.aud, ACCOUNTS);
  });

  test('an opaque token introspects active with scope, client and audience, and inactive after revocation', async () => {
    const config = await discover(basic.id, oidc.ClientSecretBasic(basic.secret));
    const tokens = await oidc.clientCredentialsGrant(config, {
      scope: 'ledger:read',
      resource: LEDGER,
    });
    assert.ok(!tokens.access_token.includes('.'), 'opaque, not a JWT');
    const active = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(active.scope, 'ledger:read');
    assert.equal(active.client_id, basic.id);
    assert.equal(active.aud, LEDGER);
    await oidc.tokenRevocation(config, tokens.access_token);
    const revoked = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.deepEqual(revoked, { active: false });
  });

  test('an unknown resource fails with invalid_target', async () => {
    const config = await discover(basic.id, oidc.ClientSecretBasic(basic.secret));
    await assert.rejects(
      oidc.clientCredentialsGrant(config, {
        scope: 'accounts:read',
        resource: 'https://unknown.example',
      }),
      {
        error: 'invalid_target',
        error_description: 'unknown resource https://unknown.example',
      },
    );
  });

  test('a scope the client may not have fails with invalid_scope', async () => {
    const config = await discover(basic.id, oidc.ClientSecretBasic(basic.secret));
    await assert.rejects(
      oidc.clientCredentialsGrant(config, { scope: 'accounts:write', resource: ACCOUNTS }),
      {
        error: 'invalid_scope',
      },
    );
    await assert.rejects(oidc.clientCredentialsGrant(config, { scope: 'accounts:write' }), {
      error: 'invalid_scope',
    });
  });

  test('a client with several APIs must name the resource when its scopes do not choose one', async () => {
    const config = await discover(basic.id, oidc.ClientSecretBasic(basic.secret));
    await assert.rejects(oidc.clientCredentialsGrant(config, {}), {
      error: 'invalid_target',
      error_description:
        'this client may access several APIs: name one with the resource parameter',
    });
  });

  test('a wrong secret fails with invalid_client', async () => {
    const config = await discover(basic.id, oidc.ClientSecretBasic('wrong-secret'));
    await assert.rejects(
      oidc.clientCredentialsGrant(config, { resource: ACCOUNTS }),
      (err: Error & { cause?: unknown }) => {
        const [challenge] = err.cause as { parameters: Record<string, string> }[];
        assert.equal(challenge?.parameters.error, 'invalid_client');
        return true;
      },
    );
  });

  test('private_key_jwt: each assertion is accepted once; a replay is refused', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const { client } = await server.app.services.clients.create({
      name: 'Signed client',
      grantTypes: ['client_credentials'],
      authMethod: 'private_key_jwt',
      jwks: { keys: [jwk] },
      apiAccess: { [ACCOUNTS]: ['accounts:read'] },
    });
    let lastAssertion = '';
    const config = await discover(
      client.clientId,
      oidc.PrivateKeyJwt({ key: privateKey, kid: 'k1' }),
      {},
    );
    const fetcher: typeof fetch = async (url, init) => {
      const body = new URLSearchParams(String(init?.body));
      lastAssertion = body.get('client_assertion') ?? lastAssertion;
      return fetch(url, init);
    };
    config[oidc.customFetch] = fetcher;
    const tokens = await oidc.clientCredentialsGrant(config, { resource: ACCOUNTS });
    assert.equal(tokens.scope, 'accounts:read');
    assert.ok(lastAssertion);

    const replay = await fetch(server.url('/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        resource: ACCOUNTS,
        client_id: client.clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: lastAssertion,
      }),
    });
    assert.equal(replay.status, 401);
    assert.deepEqual(await replay.json(), {
      error: 'invalid_client',
      error_description: 'client authentication failed',
    });
  });

  test('DPoP binds the token to the client key', async () => {
    const config = await discover(basic.id, oidc.ClientSecretBasic(basic.secret));
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await oidc.clientCredentialsGrant(config, { resource: LEDGER }, { DPoP: dpop });
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    const info = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(info.token_type, 'DPoP');
    assert.ok((info.cnf as { jkt?: string })?.jkt);
  });
});
