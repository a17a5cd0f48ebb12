// A client's own rate limit through the admin API's client resource (set, shown, replaced,
// refused when out of bounds, in the OpenAPI document) and dynamic registration (a client cannot
// set its own; an administrator's limit survives the client's RFC 7592 updates).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminApi, assertProblem } from '../admin/helpers.ts';
import { BANK_API, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const CLIENT = {
  name: 'Reports job',
  grantTypes: ['client_credentials'],
  apiAccess: { [BANK_API]: ['accounts:read'] },
};

describe('a client rate limit as administrators and registered clients see it', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let token: string;

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    await seedBank(server);
    token = await api.machineToken(['admin:clients']);
  });
  after(() => server.close());

  test('admin API: create with a limit, read it, replace it, null puts the default back', async () => {
    const created = await api.call('POST', '/clients', {
      token,
      body: { ...CLIENT, rateLimit: { requests: 600, windowSeconds: 60 } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.client.clientId;
    assert.deepEqual(created.body.client.rateLimit, { requests: 600, windowSeconds: 60 });
    assert.deepEqual((await api.call('GET', `/clients/${id}`, { token })).body.rateLimit, {
      requests: 600,
      windowSeconds: 60,
    });
    const replaced = await api.call('PUT', `/clients/${id}`, { token, body: CLIENT });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body.client.rateLimit, null, 'a replacement without one: the default');
    const [event] = (
      await server.app.services.audit.query({ action: 'client.updated', targetId: id })
    ).events;
    assert.deepEqual(
      [
        (event!.details.before as { rateLimit: unknown }).rateLimit,
        (event!.details.after as { rateLimit: unknown }).rateLimit,
      ],
      [{ requests: 600, windowSeconds: 60 }, null],
    );
  });

  test('admin API: limits out of bounds are validation problems and nothing is written', async () => {
    const before = (await server.app.services.clients.list()).length;
    for (const [rateLimit, pointer] of [
      [{ requests: 0, windowSeconds: 60 }, '#/rateLimit/requests'],
      [{ requests: 10, windowSeconds: 86_401 }, '#/rateLimit/windowSeconds'],
      [{ requests: 10 }, '#/rateLimit/windowSeconds'],
      ['600/60', '#/rateLimit'],
    ] as const) {
      const reply = await api.call('POST', '/clients', { token, body: { ...CLIENT, rateLimit } });
      assertProblem(reply, 400, 'validation');
      assert.equal(reply.body.errors[0].pointer, pointer, JSON.stringify(reply.body));
    }
    assert.equal((await server.app.services.clients.list()).length, before);
  });

  test('the OpenAPI document describes the limit and the 429 problem', async () => {
    const doc = (await api.call('GET', '/openapi.json')).body;
    const limit = doc.components.schemas.ClientInput.properties.rateLimit;
    assert.deepEqual(limit.anyOf[0].required, ['requests', 'windowSeconds']);
    assert.equal(limit.anyOf[1].type, 'null');
    assert.ok(doc.paths['/clients'].get.responses['429'], 'authenticated operations list 429');
  });

  test('registration: a client cannot set its limit; one set by an administrator stays', async () => {
    const iat = (
      await api.call('POST', '/initial-access-tokens', {
        token,
        body: { description: 'Partner', apiAccess: { [BANK_API]: ['accounts:read'] } },
      })
    ).body as { token: string };
    const registration = {
      client_name: 'Partner app',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    };
    const send = async (method: string, url: string, bearer: string, body?: unknown) => {
      const res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
      });
      // biome-ignore lint/suspicious/noExplicitAny: RFC 7591 responses
      return { status: res.status, body: (await res.json()) as any };
    };
    const count = (await server.app.services.clients.list()).length;
    const refused = await send('POST', server.url('/reg'), iat.token, {
      ...registration,
      rate_limit: { requests: 1_000_000_000, window_seconds: 1 },
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_client_metadata');
    assert.equal(
      refused.body.error_description,
      'rate_limit is decided by the administrator who issued the initial access token',
    );
    assert.equal((await server.app.services.clients.list()).length, count, 'nothing registered');

    const created = (await send('POST', server.url('/reg'), iat.token, registration)).body;
    await server.app.services.clients.setRateLimit(created.client_id, {
      requests: 50,
      windowSeconds: 10,
    });
    const read = await send(
      'GET',
      created.registration_client_uri,
      created.registration_access_token,
    );
    const {
      registration_access_token: _r,
      registration_client_uri: _u,
      client_secret_expires_at: _e,
      client_id_issued_at: _i,
      ...metadata
    } = read.body;
    const raise = await send(
      'PUT',
      created.registration_client_uri,
      created.registration_access_token,
      {
        ...metadata,
        rate_limit: { requests: 1_000_000, window_seconds: 10 },
      },
    );
    assert.equal(raise.status, 400);
    assert.equal(raise.body.error, 'invalid_client_metadata');
    const renamed = await send(
      'PUT',
      created.registration_client_uri,
      created.registration_access_token,
      {
        ...metadata,
        client_name: 'Partner app 2',
      },
    );
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    const stored = await server.app.services.clients.get(created.client_id);
    assert.equal(stored?.name, 'Partner app 2');
    assert.deepEqual(stored?.rateLimit, { requests: 50, windowSeconds: 10 }, 'the limit stays');
  });
});
