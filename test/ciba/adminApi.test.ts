// CIBA clients through the admin API: created with a backchannel object, shown with it, audited
// with it; a ping client without its endpoint refused as problem+json with nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CIBA_GRANT_TYPE } from '../../src/oidc/cibaClients.ts';
import { adminApi } from '../admin/helpers.ts';
import { BANK_API, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('CIBA clients through the admin API', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let token: string;
  const clientCount = async () => (await server.app.services.clients.list()).length;

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    await seedBank(server);
    token = await api.machineToken(['admin:clients']);
  });
  after(() => server.close());

  test('created with its backchannel settings, shown and audited with them', async () => {
    const created = await api.call('POST', '/clients', {
      token,
      body: {
        name: 'Branch terminal',
        grantTypes: [CIBA_GRANT_TYPE],
        apiAccess: { [BANK_API]: ['accounts:read'] },
        backchannel: { mode: 'ping', notificationEndpoint: 'https://branch.example/notify' },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const client = (created.body as { client: Record<string, unknown> }).client;
    assert.deepEqual(client.backchannel, {
      mode: 'ping',
      notificationEndpoint: 'https://branch.example/notify',
      signingAlg: null,
    });
    const shown = await api.call('GET', `/clients/${client.clientId}`, { token });
    assert.deepEqual((shown.body as Record<string, unknown>).backchannel, client.backchannel);
    const events = await server.app.services.audit.query({ action: 'client.created' });
    const event = events.events.find((e) => e.target?.id === client.clientId)!;
    assert.deepEqual(event.details.backchannel, {
      mode: 'ping',
      notificationEndpoint: 'https://branch.example/notify',
    });
  });

  test('a ping client without its endpoint: problem+json, nothing written', async () => {
    const before = await clientCount();
    const refused = await api.call('POST', '/clients', {
      token,
      body: {
        name: 'Broken terminal',
        grantTypes: [CIBA_GRANT_TYPE],
        apiAccess: { [BANK_API]: ['accounts:read'] },
        backchannel: { mode: 'ping' },
      },
    });
    assert.equal(refused.status, 400);
    assert.match(String(refused.headers.get('content-type')), /application\/problem\+json/);
    assert.match(
      JSON.stringify(refused.body),
      /ping mode needs a client notification endpoint: an absolute https URL without fragment/,
    );
    assert.equal(await clientCount(), before);
  });
});
