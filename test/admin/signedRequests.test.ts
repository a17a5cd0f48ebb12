// /admin/v1/clients and require_signed_request_object: set, shown, audited, and refused (problem
// JSON naming the field, nothing written) for a client that could not sign its requests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { BANK_API } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi, assertProblem } from './helpers.ts';

describe('admin API: clients that must sign their requests (JAR)', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let token: string;
  let jwks: { keys: Record<string, unknown>[] };

  const signingClient = () => ({
    name: 'Third-party provider',
    grantTypes: ['authorization_code'],
    redirectUris: ['https://tpp.example/callback'],
    authMethod: 'private_key_jwt',
    jwks,
    apiAccess: { [BANK_API]: ['accounts:read'] },
    requireSignedRequestObject: true,
  });

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    await server.app.services.catalogue.create({
      identifier: BANK_API,
      scopes: [{ name: 'accounts:read', description: 'See your accounts' }],
    });
    token = await api.machineToken(['admin:clients']);
    const { publicKey } = await generateKeyPair('PS256');
    jwks = { keys: [{ ...(await exportJWK(publicKey)), alg: 'PS256', use: 'sig' }] };
  });
  after(() => server.close());

  test('created with requireSignedRequestObject: shown, stored as the metadata, audited', async () => {
    const created = await api.call('POST', '/clients', { token, body: signingClient() });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { client } = created.body;
    assert.equal(client.requireSignedRequestObject, true);
    const shown = await api.call('GET', `/clients/${client.clientId}`, { token });
    assert.equal(shown.body.requireSignedRequestObject, true);
    const metadata = await server.app.services.clients.providerMetadata(client.clientId);
    assert.equal(metadata?.require_signed_request_object, true);
    const [event] = (
      await server.app.services.audit.query({ action: 'client.created', targetId: client.clientId })
    ).events;
    assert.equal(event?.details.requireSignedRequestObject, true);
  });

  test('without it the client is as before: false, and no such metadata stored', async () => {
    const { requireSignedRequestObject: _, ...plain } = signingClient();
    const created = await api.call('POST', '/clients', { token, body: plain });
    assert.equal(created.body.client.requireSignedRequestObject, false);
    const metadata = await server.app.services.clients.providerMetadata(
      created.body.client.clientId,
    );
    assert.ok(metadata && !('require_signed_request_object' in metadata));
  });

  const refusals: [string, Record<string, unknown>, string][] = [
    [
      'a client with a secret has no keys to verify request objects with',
      { authMethod: 'client_secret_basic', jwks: undefined },
      "signed request objects need the client's public keys (a JWKS or a JWKS URI)",
    ],
    [
      'a client_credentials client makes no authorization requests',
      { grantTypes: ['client_credentials'], redirectUris: undefined },
      'signed request objects are for authorization_code clients',
    ],
  ];
  for (const [name, change, detail] of refusals) {
    test(`refused: ${name}`, async () => {
      const clients = (await server.app.services.clients.list()).length;
      const reply = await api.call('POST', '/clients', {
        token,
        body: { ...signingClient(), ...change },
      });
      assertProblem(reply, 400, 'validation', detail);
      assert.deepEqual(reply.body.errors, [{ pointer: '#/requireSignedRequestObject', detail }]);
      assert.equal((await server.app.services.clients.list()).length, clients, 'nothing written');
    });
  }
});
