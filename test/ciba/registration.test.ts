// CIBA clients by dynamic registration (RFC 7591 with an initial access token): the standard
// backchannel metadata, checked by the same client rules; user codes and a ping client without an
// https notification endpoint refused (invalid_client_metadata, nothing written).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CIBA_GRANT_TYPE } from '../../src/oidc/cibaClients.ts';
import { adminApi } from '../admin/helpers.ts';
import { BANK_API, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('CIBA clients by dynamic registration', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let adminToken: string;

  const issue = async () =>
    (
      await api.call('POST', '/initial-access-tokens', {
        token: adminToken,
        body: { description: 'Partner', apiAccess: { [BANK_API]: ['accounts:read'] } },
      })
    ).body as { token: string };
  const register = async (body: Record<string, unknown>) => {
    const res = await fetch(server.url('/reg'), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${(await issue()).token}`,
      },
      body: JSON.stringify({
        client_name: 'Partner counter',
        grant_types: [CIBA_GRANT_TYPE],
        token_endpoint_auth_method: 'client_secret_basic',
        ...body,
      }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: RFC 7591 responses
    return { status: res.status, body: (await res.json()) as any };
  };
  const clientCount = async () => (await server.app.services.clients.list()).length;

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    await seedBank(server);
    adminToken = await api.machineToken(['admin:clients']);
  });
  after(() => server.close());

  test('a ping client registers with its notification endpoint', async () => {
    const r = await register({
      backchannel_token_delivery_mode: 'ping',
      backchannel_client_notification_endpoint: 'https://partner.example/ciba',
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.grant_types, [CIBA_GRANT_TYPE]);
    assert.equal(r.body.backchannel_token_delivery_mode, 'ping');
    assert.equal(r.body.backchannel_client_notification_endpoint, 'https://partner.example/ciba');
    assert.equal(r.body.backchannel_user_code_parameter, false);
    const view = await server.app.services.clients.get(r.body.client_id);
    assert.equal(view?.backchannel?.mode, 'ping');
  });

  test('refused: a user code, or ping without an https endpoint; nothing written', async () => {
    const before = await clientCount();
    const userCode = await register({ backchannel_user_code_parameter: true });
    assert.equal(userCode.status, 400);
    assert.deepEqual(userCode.body, {
      error: 'invalid_client_metadata',
      error_description: 'backchannel_user_code_parameter: user codes are not supported',
    });
    const noEndpoint = await register({
      backchannel_token_delivery_mode: 'ping',
      backchannel_client_notification_endpoint: 'http://partner.example/ciba',
    });
    assert.equal(noEndpoint.status, 400);
    assert.deepEqual(noEndpoint.body, {
      error: 'invalid_client_metadata',
      error_description:
        'backchannel_*: ping mode needs a client notification endpoint: an absolute https URL without fragment',
    });
    assert.equal(await clientCount(), before);
  });
});
