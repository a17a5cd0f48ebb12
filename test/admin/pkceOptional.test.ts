// /admin/v1/clients with `pkce`: "optional" for a confidential client (shown, audited), refused
// for a public client (problem+json naming the field, nothing written); required by default.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi, assertProblem } from './helpers.ts';

const RP = {
  name: 'Certified RP',
  grantTypes: ['authorization_code'],
  redirectUris: ['https://rp.example/callback'],
};

describe('admin API: clients with PKCE optional', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let token: string;

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    token = await api.machineToken(['admin:clients']);
  });
  after(() => server.close());

  test('created with pkce "optional": shown so, audited; a default client says "required"', async () => {
    const created = await api.call('POST', '/clients', {
      token,
      body: { ...RP, pkce: 'optional' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.client.pkce, 'optional');
    const shown = await api.call('GET', `/clients/${created.body.client.clientId}`, { token });
    assert.equal(shown.body.pkce, 'optional');
    const event = (
      await server.app.services.audit.query({ action: 'client.created', limit: 500 })
    ).events.at(-1);
    assert.equal(event?.details.pkce, 'optional');
    const plain = await api.call('POST', '/clients', { token, body: RP });
    assert.equal(plain.body.client.pkce, 'required');
  });

  test('a public client with pkce "optional": 400 naming pkce, nothing written', async () => {
    const before = (await server.app.services.clients.list()).length;
    const reply = await api.call('POST', '/clients', {
      token,
      body: { ...RP, authMethod: 'none', pkce: 'optional' },
    });
    const detail =
      'PKCE can be optional only for a confidential client: a public client always uses PKCE';
    assertProblem(reply, 400, 'validation', detail);
    assert.deepEqual(reply.body.errors, [{ pointer: '#/pkce', detail }]);
    assert.equal((await server.app.services.clients.list()).length, before);
  });
});
