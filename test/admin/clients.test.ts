// /admin/v1/clients and /admin/v1/initial-access-tokens: each operation's success, what it
// records in the audit log, and its refusals (problem+json naming the field, nothing written).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { BANK_API } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi, assertProblem } from './helpers.ts';

const WEB_CLIENT = {
  name: 'Budget Planner',
  grantTypes: ['authorization_code', 'refresh_token'],
  redirectUris: ['https://app.example/callback'],
  apiAccess: { [BANK_API]: ['accounts:read'] },
};

describe('admin API: clients and initial access tokens', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let token: string;

  const clientCount = async () => (await server.app.services.clients.list()).length;
  /** Changes recorded through the admin API (token events are recorded asynchronously). */
  const adminEvents = async () =>
    (await server.app.services.audit.query({ limit: 500 })).events.filter(
      (e) => e.details.via === 'admin-api',
    ).length;
  const lastEvent = async (action: string) =>
    (await server.app.services.audit.query({ action, limit: 500 })).events.at(-1);

  /** Asserts a refused request changed nothing: same clients, no new audit event. */
  async function refusedWithoutWrites(
    request: () => Promise<import('./helpers.ts').Reply>,
    check: (reply: import('./helpers.ts').Reply) => void,
  ) {
    const clients = await clientCount();
    const events = await adminEvents();
    check(await request());
    assert.equal(await clientCount(), clients, 'no client written');
    assert.equal(await adminEvents(), events, 'no change recorded');
  }

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    await server.app.services.catalogue.create({
      identifier: BANK_API,
      scopes: [
        { name: 'accounts:read', description: 'See your accounts' },
        { name: 'payments:write', description: 'Make payments' },
      ],
    });
    token = await api.machineToken(['admin:clients']);
  });
  after(() => server.close());

  test('create: 201 with the secret once; shown and listed without it; audited as the calling client', async () => {
    const created = await api.call('POST', '/clients', { token, body: WEB_CLIENT });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const { client, clientSecret } = created.body;
    assert.match(clientSecret, /^[\w-]{43}$/);
    assert.equal(client.authMethod, 'client_secret_basic');
    assert.equal(client.createdBy, 'admin-api');
    assert.deepEqual(client.apiAccess, { [BANK_API]: ['accounts:read'] });
    const shown = await api.call('GET', `/clients/${client.clientId}`, { token });
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body, client);
    assert.ok(!JSON.stringify(shown.body).includes(clientSecret));
    const list = await api.call('GET', '/clients', { token });
    assert.ok(list.body.clients.some((c: { clientId: string }) => c.clientId === client.clientId));
    const event = await lastEvent('client.created');
    assert.equal(event?.actor.type, 'client');
    assert.deepEqual(event?.target, { type: 'client', id: client.clientId });
    assert.equal(event?.details.via, 'admin-api');
    assert.ok(!JSON.stringify(event).includes(clientSecret), 'the secret is not in the log');
  });

  test('a machine client made through the API gets tokens with its secret', async () => {
    const created = await api.call('POST', '/clients', {
      token,
      body: {
        name: 'Batch',
        grantTypes: ['client_credentials'],
        apiAccess: { [BANK_API]: ['accounts:read'] },
      },
    });
    const config = await oidc.discovery(
      new URL(server.issuer),
      created.body.client.clientId,
      {},
      oidc.ClientSecretBasic(created.body.clientSecret),
      { execute: [oidc.allowInsecureRequests] },
    );
    const tokens = await oidc.clientCredentialsGrant(config, { resource: BANK_API });
    assert.equal(tokens.scope, 'accounts:read');
  });

  test('unknown fields are refused, each named; nothing is written', async () => {
    await refusedWithoutWrites(
      () =>
        api.call('POST', '/clients', {
          token,
          body: { ...WEB_CLIENT, colour: 'red', admin: true },
        }),
      (reply) => {
        assertProblem(reply, 400, 'validation', '2 fields are not valid');
        assert.deepEqual(reply.body.errors, [
          { pointer: '#/colour', detail: 'unknown field' },
          { pointer: '#/admin', detail: 'unknown field' },
        ]);
      },
    );
  });

  test('redirect URIs must be absolute, without fragment, https except on loopback', async () => {
    const cases: [string, string][] = [
      [
        'http://app.example/cb',
        'redirect URI http://app.example/cb must use https (http is allowed only on loopback)',
      ],
      [
        'https://app.example/cb#x',
        'redirect URI https://app.example/cb#x must be absolute and have no fragment',
      ],
      ['/callback', 'redirect URI /callback must be absolute and have no fragment'],
    ];
    for (const [uri, detail] of cases) {
      await refusedWithoutWrites(
        () =>
          api.call('POST', '/clients', {
            token,
            body: { ...WEB_CLIENT, redirectUris: ['https://ok.example/cb', uri] },
          }),
        (reply) => {
          assertProblem(reply, 400, 'validation', `#/redirectUris/1: ${detail}`);
          assert.deepEqual(reply.body.errors, [{ pointer: '#/redirectUris/1', detail }]);
        },
      );
    }
    const loopback = await api.call('POST', '/clients', {
      token,
      body: { ...WEB_CLIENT, redirectUris: ['http://127.0.0.1:8080/cb'], authMethod: 'none' },
    });
    assert.equal(loopback.status, 201);
    assert.equal(loopback.body.clientSecret, null);
  });

  test('the client rules answer with the field at fault; nothing is written', async () => {
    await refusedWithoutWrites(
      () =>
        api.call('POST', '/clients', {
          token,
          body: { name: 'Batch', grantTypes: ['client_credentials'] },
        }),
      (reply) => {
        assertProblem(
          reply,
          400,
          'validation',
          'a client_credentials client needs access to at least one API',
        );
        assert.deepEqual(reply.body.errors, [
          {
            pointer: '#/apiAccess',
            detail: 'a client_credentials client needs access to at least one API',
          },
        ]);
      },
    );
    await refusedWithoutWrites(
      () =>
        api.call('POST', '/clients', {
          token,
          body: { ...WEB_CLIENT, apiAccess: { [BANK_API]: ['nope'] } },
        }),
      (reply) =>
        assertProblem(reply, 400, 'validation', `API ${BANK_API} does not define the scope nope`),
    );
    await refusedWithoutWrites(
      () =>
        api.call('POST', '/clients', {
          token,
          body: {
            name: 'Signed',
            grantTypes: ['client_credentials'],
            authMethod: 'private_key_jwt',
            jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'secret' }] },
            apiAccess: { [BANK_API]: ['accounts:read'] },
          },
        }),
      (reply) =>
        assertProblem(reply, 400, 'validation', "a JWKS holds the client's public keys only"),
    );
  });

  test('malformed JSON, another media type, a wrong type: problems, nothing written', async () => {
    await refusedWithoutWrites(
      () => api.call('POST', '/clients', { token, body: '{"name":' }),
      (reply) => assertProblem(reply, 400, 'bad_request', 'the request body is not valid JSON'),
    );
    await refusedWithoutWrites(
      () =>
        api.call('POST', '/clients', {
          token,
          body: 'name=x',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      (reply) =>
        assertProblem(
          reply,
          415,
          'unsupported_media_type',
          'send the request body as application/json',
        ),
    );
    await refusedWithoutWrites(
      () =>
        api.call('POST', '/clients', { token, body: { ...WEB_CLIENT, grantTypes: 'implicit' } }),
      (reply) =>
        assert.deepEqual(reply.body.errors, [
          { pointer: '#/grantTypes', detail: 'Invalid input: expected array, received string' },
        ]),
    );
  });

  test('replace, rotate the secret, delete; each audited; unknown ids are 404', async () => {
    const { client, clientSecret } = (
      await api.call('POST', '/clients', { token, body: WEB_CLIENT })
    ).body;
    const replaced = await api.call('PUT', `/clients/${client.clientId}`, {
      token,
      body: {
        ...WEB_CLIENT,
        name: 'Budget Planner 2',
        apiAccess: { [BANK_API]: ['accounts:read', 'payments:write'] },
      },
    });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body.client.name, 'Budget Planner 2');
    assert.equal(replaced.body.clientSecret, null, 'the secret stays');
    const updated = await lastEvent('client.updated');
    assert.deepEqual(updated?.details.before, {
      name: 'Budget Planner',
      grantTypes: ['authorization_code', 'refresh_token'],
      authMethod: 'client_secret_basic',
      redirectUris: ['https://app.example/callback'],
      apiAccess: { [BANK_API]: ['accounts:read'] },
      firstParty: false,
      minAssuranceLevel: 1,
      rateLimit: null,
    });
    assert.deepEqual((updated!.details.after as { apiAccess: unknown }).apiAccess, {
      [BANK_API]: ['accounts:read', 'payments:write'],
    });

    const rotated = await api.call('POST', `/clients/${client.clientId}/secret`, { token });
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.body.clientSecret, clientSecret);
    assert.equal((await lastEvent('client.secret_rotated'))?.target?.id, client.clientId);

    const deleted = await api.call('DELETE', `/clients/${client.clientId}`, { token });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.body, undefined);
    assertProblem(
      await api.call('GET', `/clients/${client.clientId}`, { token }),
      404,
      'not_found',
      `no client ${client.clientId}`,
    );
    assertProblem(
      await api.call('DELETE', `/clients/${client.clientId}`, { token }),
      404,
      'not_found',
    );
    assertProblem(
      await api.call('PUT', '/clients/nope', { token, body: WEB_CLIENT }),
      404,
      'not_found',
    );
  });

  test("Portcullis' own clients are read-only here: 409, nothing changed", async () => {
    const before = await server.app.services.clients.get('portcullis-account');
    const reply = await api.call('DELETE', '/clients/portcullis-account', { token });
    assertProblem(
      reply,
      409,
      'conflict',
      'this client is managed by Portcullis itself and cannot be changed',
    );
    assert.deepEqual(await server.app.services.clients.get('portcullis-account'), before);
  });

  test('initial access tokens: issued once with what registered clients may access, listed without value, revoked', async () => {
    const issued = await api.call('POST', '/initial-access-tokens', {
      token,
      body: {
        description: 'Partner: Acme',
        apiAccess: { [BANK_API]: ['accounts:read'] },
        expiresIn: 3600,
      },
    });
    assert.equal(issued.status, 201);
    assert.match(issued.body.token, /^[\w-]{30,}$/);
    assert.equal(issued.body.registrationEndpoint, `${server.issuer}/reg`);
    assert.equal(issued.body.singleUse, true);
    assert.equal(Date.parse(issued.body.expiresAt) - Date.parse(issued.body.createdAt), 3600_000);
    assert.match(issued.body.createdBy, /^client:/);
    const listed = await api.call('GET', '/initial-access-tokens', { token });
    const entry = listed.body.initialAccessTokens.find(
      (t: { id: string }) => t.id === issued.body.id,
    );
    assert.deepEqual(entry.apiAccess, { [BANK_API]: ['accounts:read'] });
    assert.ok(!JSON.stringify(listed.body).includes(issued.body.token));
    const event = await lastEvent('initial_access.created');
    assert.ok(!JSON.stringify(event).includes(issued.body.token));

    assert.equal(
      (await api.call('DELETE', `/initial-access-tokens/${issued.body.id}`, { token })).status,
      204,
    );
    assertProblem(
      await api.call('DELETE', `/initial-access-tokens/${issued.body.id}`, { token }),
      404,
      'not_found',
    );
    const registration = await fetch(server.url('/reg'), {
      method: 'POST',
      headers: { authorization: `Bearer ${issued.body.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'x', redirect_uris: ['https://x.example/cb'] }),
    });
    assert.equal(registration.status, 401, 'a revoked token registers nothing');
  });

  test('initial access tokens: an unknown API, an unknown field or a bad lifetime is refused', async () => {
    const cases: [unknown, string][] = [
      [
        { description: 'x', apiAccess: { 'https://nope.example': ['a'] } },
        'no API with identifier https://nope.example is registered',
      ],
      [{ description: 'x', scope: 'all' }, '#/scope: unknown field'],
      [{ description: 'x', expiresIn: 10 }, '#/expiresIn: Too small: expected number to be >=60'],
    ];
    for (const [body, detail] of cases) {
      const before = (await api.call('GET', '/initial-access-tokens', { token })).body
        .initialAccessTokens.length;
      assertProblem(
        await api.call('POST', '/initial-access-tokens', { token, body }),
        400,
        'validation',
        detail,
      );
      const afterCount = (await api.call('GET', '/initial-access-tokens', { token })).body
        .initialAccessTokens.length;
      assert.equal(afterCount, before);
    }
  });
});
