// The admin API side of issue 15 items 1 and 3: a client's response signing algorithms
// (idTokenAlg and its kin, among SIGNING_ALGS; RS256 refused for fapi2 clients with the field at
// fault and nothing written), and an API's `public` flag, which discovery follows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { signingKey } from '../support/fapi.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi, assertProblem } from './helpers.ts';

const RATES = 'https://rates.api.example';
const REDIRECT = 'https://rp.example/cb';

describe('admin API: signing algorithms of clients, public APIs', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let token: string;

  const scopesSupported = async () =>
    (
      (await (await fetch(server.url('/.well-known/openid-configuration'))).json()) as {
        scopes_supported: string[];
      }
    ).scopes_supported;
  const counts = async () => ({
    clients: (await server.app.services.clients.list()).length,
    audit: (await server.app.services.audit.query({ limit: 500 })).events.length,
  });

  before(async () => {
    server = await startTestServer({ env: { CACHE_SECONDS: '0' } });
    api = adminApi(server);
    token = await api.machineToken(['admin:apis', 'admin:clients']);
  });
  after(() => server.close());

  test('an API marked public has its scopes in discovery; unmarked, they leave it', async () => {
    const created = await api.call('POST', '/apis', {
      token,
      body: { identifier: RATES, scopes: [{ name: 'rates:read', description: 'Read rates' }] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.public, false, 'not public unless marked');
    assert.ok(!(await scopesSupported()).includes('rates:read'));

    const marked = await api.call('PATCH', `/apis/${created.body.id}`, {
      token,
      body: { public: true },
    });
    assert.equal(marked.status, 200, JSON.stringify(marked.body));
    assert.equal(marked.body.public, true);
    assert.deepEqual(await scopesSupported(), [
      'openid',
      'offline_access',
      'profile',
      'email',
      'rates:read',
    ]);
    const { events } = await server.app.services.audit.query({ action: 'api.updated' });
    const details = events.at(-1)!.details as Record<string, { public: boolean }>;
    assert.deepEqual([details.before!.public, details.after!.public], [false, true]);

    const bad = await api.call('PATCH', `/apis/${created.body.id}`, {
      token,
      body: { public: 'yes' },
    });
    assertProblem(bad, 400, 'validation');
    assert.equal((await api.call('GET', `/apis/${created.body.id}`, { token })).body.public, true);

    await api.call('PATCH', `/apis/${created.body.id}`, { token, body: { public: false } });
    assert.ok(!(await scopesSupported()).includes('rates:read'));
  });

  test('a client with idTokenAlg RS256 is created, shown and audited', async () => {
    const created = await api.call('POST', '/clients', {
      token,
      body: {
        name: 'Legacy portal',
        grantTypes: ['authorization_code'],
        redirectUris: [REDIRECT],
        idTokenAlg: 'RS256',
        introspectionAlg: 'RS256',
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.client.signing, {
      idTokenAlg: 'RS256',
      introspectionAlg: 'RS256',
    });
    const shown = await api.call('GET', `/clients/${created.body.client.clientId}`, { token });
    assert.deepEqual(shown.body.signing, created.body.client.signing);
    const { events } = await server.app.services.audit.query({ action: 'client.created' });
    assert.deepEqual((events.at(-1)!.details as { signing: unknown }).signing, {
      idTokenAlg: 'RS256',
      introspectionAlg: 'RS256',
    });
  });

  test('RS256 for a fapi2 client, or an algorithm outside the ring: the field at fault, nothing written', async () => {
    const before = await counts();
    const fapi = await api.call('POST', '/clients', {
      token,
      body: {
        name: 'Open banking TPP',
        grantTypes: ['authorization_code'],
        redirectUris: [REDIRECT],
        authMethod: 'private_key_jwt',
        jwks: { keys: [signingKey('PS256').publicJwk] },
        profile: 'fapi2',
        idTokenAlg: 'RS256',
      },
    });
    const message =
      "a fapi2 client's responses are signed with PS256, ES256, Ed25519, EdDSA only (not RS256)";
    assertProblem(fapi, 400, 'validation', message);
    assert.deepEqual(fapi.body.errors, [{ pointer: '#/idTokenAlg', detail: message }]);

    const unknown = await api.call('POST', '/clients', {
      token,
      body: {
        name: 'Odd',
        grantTypes: ['authorization_code'],
        redirectUris: [REDIRECT],
        userinfoAlg: 'HS256',
      },
    });
    assertProblem(unknown, 400, 'validation');
    assert.equal(unknown.body.errors[0].pointer, '#/userinfoAlg');

    // PS256 is an algorithm Portcullis knows, but not one of this server's ring (ES256, RS256).
    const outside = await api.call('POST', '/clients', {
      token,
      body: {
        name: 'Odd',
        grantTypes: ['authorization_code'],
        redirectUris: [REDIRECT],
        idTokenAlg: 'PS256',
      },
    });
    assertProblem(
      outside,
      400,
      'validation',
      'id_token_signed_response_alg must be one of ES256, RS256',
    );
    assert.deepEqual(await counts(), before, 'nothing written, nothing audited');
  });
});
