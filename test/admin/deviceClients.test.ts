// The device authorization grant through the admin API and dynamic registration: a public client
// with `device_code` (the URN in RFC 7591 metadata), and fapi2 clients refused it with nothing
// written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BANK_API } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi, assertProblem } from './helpers.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

describe('admin API and registration: device_code clients', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let token: string;

  const clientCount = async () => (await server.app.services.clients.list()).length;

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    await server.app.services.catalogue.create({
      identifier: BANK_API,
      scopes: [{ name: 'accounts:read', description: 'See your accounts' }],
    });
    token = await api.machineToken(['admin:clients']);
  });
  after(() => server.close());

  test('a public client with the device flow: created, shown with device_code, no redirect URI', async () => {
    const created = await api.call('POST', '/clients', {
      token,
      body: {
        name: 'Bank TV',
        grantTypes: ['device_code', 'refresh_token'],
        authMethod: 'none',
        apiAccess: { [BANK_API]: ['accounts:read'] },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.client.grantTypes, ['device_code', 'refresh_token']);
    assert.equal(created.body.secret, undefined);
    const stored = await server.app.services.clients.get(created.body.client.clientId);
    assert.deepEqual(stored?.grantTypes, ['device_code', 'refresh_token']);
  });

  test('a fapi2 client is refused the device flow, naming the field; nothing written', async () => {
    const before = await clientCount();
    const refused = await api.call('POST', '/clients', {
      token,
      body: {
        name: 'FAPI TV',
        grantTypes: ['device_code'],
        authMethod: 'private_key_jwt',
        jwksUri: 'https://fapi-tv.example/jwks',
        apiAccess: { [BANK_API]: ['accounts:read'] },
        profile: 'fapi2',
      },
    });
    assertProblem(refused, 400, 'validation');
    assert.match(JSON.stringify(refused.body), /a fapi2 client cannot use device_code/);
    assert.match(JSON.stringify(refused.body), /grantTypes/);
    assert.equal(await clientCount(), before);
  });

  test('dynamic registration: grant_types with the device_code URN', async () => {
    const iat = (
      await api.call('POST', '/initial-access-tokens', {
        token,
        body: { description: 'TV maker', apiAccess: { [BANK_API]: ['accounts:read'] } },
      })
    ).body as { token: string };
    const res = await fetch(server.url('/reg'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${iat.token}` },
      body: JSON.stringify({
        client_name: 'Registered TV',
        grant_types: [DEVICE_GRANT],
        response_types: [],
        token_endpoint_auth_method: 'none',
      }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.deepEqual(body.grant_types, [DEVICE_GRANT]);
    assert.deepEqual(body.redirect_uris, []);
  });
});
