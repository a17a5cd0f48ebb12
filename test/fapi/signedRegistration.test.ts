// Dynamic registration (RFC 7591) with require_signed_request_object: held to it at the PAR
// endpoint; refused (invalid_client_metadata, nothing written) without keys to verify with.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { LEDGER } from '../oidc/ledger.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  asForm,
  authorizationParams,
  push,
  requestClaims,
  SIGNING_REDIRECT,
  type SigningClient,
  seedSigningBank,
  signRequest,
  storedArtifacts,
} from './signing.ts';

describe('dynamic registration of a client that must sign its requests', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
    await seedSigningBank(server);
  });
  after(() => server.close());

  async function register(body: Record<string, unknown>) {
    const { token } = await server.app.services.registration.issue({
      description: 'Third-party provider',
      apiAccess: { [LEDGER]: ['ledger:read'] },
      expiresInSeconds: 600,
      singleUse: true,
      createdBy: 'test',
    });
    const res = await fetch(server.url('/reg'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        client_name: 'Third-party provider',
        redirect_uris: [SIGNING_REDIRECT],
        grant_types: ['authorization_code'],
        ...body,
      }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  test('registered with its keys and require_signed_request_object: plain pushes refused, signed ones taken', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const kid = 'tpp-1';
    const registered = await register({
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] },
      require_signed_request_object: true,
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    assert.equal(registered.body.require_signed_request_object, true);
    const client: SigningClient = { id: registered.body.client_id as string, key: privateKey, kid };
    const shown = await server.app.services.clients.get(client.id);
    assert.equal(shown?.requireSignedRequestObject, true);

    const { params } = authorizationParams(client);
    const plain = asForm(params);
    const before = await storedArtifacts(server);
    const refused = await push(server, client, plain);
    assert.deepEqual(refused, {
      status: 400,
      body: {
        error: 'invalid_request',
        error_description: 'Request Object must be used by this client',
      },
    });
    assert.deepEqual(await storedArtifacts(server), before, 'nothing was stored');

    const request = await signRequest(client, requestClaims(client, server.issuer, params));
    assert.equal((await push(server, client, { request })).status, 201);
  });

  test('refused for a client with a secret: invalid_client_metadata, nothing written', async () => {
    const count = (await server.app.services.clients.list()).length;
    const refused = await register({
      token_endpoint_auth_method: 'client_secret_basic',
      require_signed_request_object: true,
    });
    assert.deepEqual(refused, {
      status: 400,
      body: {
        error: 'invalid_client_metadata',
        error_description:
          "require_signed_request_object: signed request objects need the client's public keys (a JWKS or a JWKS URI)",
      },
    });
    assert.equal((await server.app.services.clients.list()).length, count);
  });

  test('refused when it is not a boolean', async () => {
    const refused = await register({ require_signed_request_object: 'yes' });
    assert.deepEqual(refused.body, {
      error: 'invalid_client_metadata',
      error_description: 'require_signed_request_object must be a boolean',
    });
  });
});
