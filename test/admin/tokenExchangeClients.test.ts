// How a resource server gets the token exchange grant through the admin API: the grant type's
// URN in grantTypes, under the same client rules as the CLI (a public client is refused it).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi, assertProblem } from './helpers.ts';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const STATEMENTS = 'https://statements.api.example';

describe('admin API: clients allowed token exchange', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let token: string;

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    await server.app.services.catalogue.create({
      identifier: STATEMENTS,
      scopes: [{ name: 'statements:read', description: 'Read statements' }],
    });
    token = await api.machineToken(['admin:clients']);
  });
  after(() => server.close());

  const body = (authMethod: string) => ({
    name: 'Accounts API backend',
    grantTypes: [EXCHANGE],
    authMethod,
    apiAccess: { [STATEMENTS]: ['statements:read'] },
  });

  test('a confidential client is created with the grant type', async () => {
    const created = await api.call('POST', '/clients', {
      token,
      body: body('client_secret_basic'),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.client.grantTypes, [EXCHANGE]);
    const metadata = await server.app.services.clients.providerMetadata(
      created.body.client.clientId,
    );
    assert.deepEqual(metadata?.grant_types, [EXCHANGE]);
  });

  test('a public client is refused it, and nothing is written', async () => {
    const before = (await server.app.services.clients.list()).length;
    const refused = await api.call('POST', '/clients', { token, body: body('none') });
    assertProblem(
      refused,
      400,
      'validation',
      'a public client (no authentication) cannot exchange tokens',
    );
    assert.equal((await server.app.services.clients.list()).length, before);
  });
});
