// Dynamic client registration: RFC 7591 with an initial access token issued through the admin
// API, then a full login with the registered client via openid-client; refusals without a token,
// for a spent token and for metadata the client may not decide; RFC 7592 read, update, delete.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { HttpBrowser, loginForCode } from '../support/browserless.ts';
import { BANK_API, PASSWORD, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi } from './helpers.ts';

const REGISTRATION = {
  client_name: 'Partner app',
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code'],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'openid accounts:read',
  client_uri: 'https://partner.example',
};

describe('dynamic client registration', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let adminToken: string;

  const register = async (body: unknown, token?: string) => {
    const res = await fetch(server.url('/reg'), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });
    // biome-ignore lint/suspicious/noExplicitAny: RFC 7591 responses
    return { status: res.status, body: (await res.json()) as any };
  };
  const manage = async (method: string, uri: string, rat: string, body?: unknown) => {
    const res = await fetch(uri, {
      method,
      headers: {
        authorization: `Bearer ${rat}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    // biome-ignore lint/suspicious/noExplicitAny: RFC 7592 responses
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any };
  };
  const issue = async (body: Record<string, unknown> = {}) =>
    (
      await api.call('POST', '/initial-access-tokens', {
        token: adminToken,
        body: { description: 'Partner', apiAccess: { [BANK_API]: ['accounts:read'] }, ...body },
      })
    ).body as { id: string; token: string };
  const clientCount = async () => (await server.app.services.clients.list()).length;

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    await seedBank(server);
    adminToken = await api.machineToken(['admin:clients']);
  });
  after(() => server.close());

  test('register with an initial access token, then sign in with the new client through openid-client', async () => {
    const iat = await issue();
    const registered = await register(REGISTRATION, iat.token);
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const client = registered.body;
    assert.ok(client.client_secret && client.registration_access_token);
    assert.equal(client.registration_client_uri, `${server.issuer}/reg/${client.client_id}`);
    assert.deepEqual(client.api_access, { [BANK_API]: ['accounts:read'] });
    assert.equal(client.first_party, false);
    assert.equal(client.scope, 'openid profile email', 'API scopes are governed by api_access');
    assert.equal(client.client_uri, 'https://partner.example');

    const browser = new HttpBrowser();
    const { redirect, verifier } = await loginForCode(browser, {
      issuer: server.issuer,
      clientId: client.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'openid accounts:read',
      resource: BANK_API,
      email: 'alice@example.com',
      password: PASSWORD,
    });
    assert.ok(redirect, 'redirected back to the registered client');
    const config = await oidc.discovery(
      new URL(server.issuer),
      client.client_id,
      { redirect_uris: [REDIRECT_URI] },
      oidc.ClientSecretBasic(client.client_secret),
      { execute: [oidc.allowInsecureRequests] },
    );
    const tokens = await oidc.authorizationCodeGrant(
      config,
      redirect,
      { pkceCodeVerifier: verifier, expectedState: redirect.searchParams.get('state')! },
      { resource: BANK_API },
    );
    assert.equal(tokens.scope, 'accounts:read');
    assert.equal(
      tokens.claims()?.sub,
      (await server.app.services.accounts.get('alice@example.com'))!.id,
    );

    // An ordinary client: listed and managed by administrators.
    const listed = await api.call('GET', `/clients/${client.client_id}`, { token: adminToken });
    assert.equal(listed.body.createdBy, 'registration');
    const { events } = await server.app.services.audit.query({ action: 'client.registered' });
    assert.deepEqual(events.at(-1)?.details, { via: 'registration', initialAccess: iat.id });
  });

  test('without an initial access token, or with a spent one, nothing is registered', async () => {
    const before = await clientCount();
    const none = await register(REGISTRATION);
    assert.equal(none.status, 401);
    assert.deepEqual(none.body, {
      error: 'invalid_token',
      error_description: 'no access token provided',
    });
    const wrong = await register(REGISTRATION, 'not-a-token');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_token');
    const iat = await issue();
    assert.equal((await register(REGISTRATION, iat.token)).status, 201);
    const spent = await register(REGISTRATION, iat.token);
    assert.equal(spent.status, 401, 'single use');
    assert.equal(spent.body.error, 'invalid_token');
    assert.equal(await clientCount(), before + 1);
  });

  test('a registered client cannot give itself API access, first-party status or a looser client', async () => {
    const iat = await issue({ singleUse: false });
    const before = await clientCount();
    const cases: [Record<string, unknown>, string, string][] = [
      [
        { api_access: { [BANK_API]: ['accounts:read', 'payments:write'] } },
        'invalid_client_metadata',
        'api_access is decided by the administrator who issued the initial access token',
      ],
      [
        { first_party: true },
        'invalid_client_metadata',
        'first_party is decided by the administrator who issued the initial access token',
      ],
      [
        { scope: 'openid payments:write' },
        'invalid_client_metadata',
        'scope payments:write is not allowed',
      ],
      [
        { redirect_uris: ['http://partner.example/cb'] },
        'invalid_redirect_uri',
        'redirect_uris: redirect URI http://partner.example/cb must use https (http is allowed only on loopback)',
      ],
      [
        { grant_types: ['refresh_token'] },
        'invalid_client_metadata',
        'grant_types: refresh_token needs the authorization_code, device_code or CIBA grant',
      ],
      [
        {
          token_endpoint_auth_method: 'none',
          grant_types: ['client_credentials'],
          redirect_uris: [],
        },
        'invalid_client_metadata',
        'grant_types: a public client (no authentication) cannot use client_credentials or CIBA',
      ],
      [
        { dpop_bound_access_tokens: true },
        'invalid_client_metadata',
        'dpop_bound_access_tokens cannot be registered with Portcullis',
      ],
    ];
    for (const [change, error, description] of cases) {
      const reply = await register({ ...REGISTRATION, ...change }, iat.token);
      assert.equal(reply.status, 400, JSON.stringify(reply.body));
      assert.deepEqual(reply.body, { error, error_description: description });
    }
    assert.equal(await clientCount(), before, 'nothing registered');
    // What the token allows, and nothing else, even when not asked for.
    const machine = await issue({ singleUse: false });
    const batch = await register(
      {
        client_name: 'Partner batch',
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      machine.token,
    );
    assert.equal(batch.status, 201, JSON.stringify(batch.body));
    assert.deepEqual(batch.body.api_access, { [BANK_API]: ['accounts:read'] });
    const config = await oidc.discovery(
      new URL(server.issuer),
      batch.body.client_id,
      {},
      oidc.ClientSecretBasic(batch.body.client_secret),
      { execute: [oidc.allowInsecureRequests] },
    );
    const granted = await oidc.clientCredentialsGrant(config, { resource: BANK_API });
    assert.equal(granted.scope, 'accounts:read');
    await assert.rejects(
      oidc.clientCredentialsGrant(config, { resource: BANK_API, scope: 'payments:write' }),
      (err: { error?: string }) => err.error === 'invalid_scope',
    );
  });

  test('RFC 7592: read, update (same rules, access kept, token rotated), delete', async () => {
    const iat = await issue();
    const created = (await register(REGISTRATION, iat.token)).body;
    const uri = created.registration_client_uri;
    const read = await manage('GET', uri, created.registration_access_token);
    assert.equal(read.status, 200);
    assert.equal(read.body.client_name, 'Partner app');

    // Read-modify-write: echo everything back (but what RFC 7592 forbids) with one change.
    const {
      registration_access_token: _r,
      registration_client_uri: _u,
      client_secret_expires_at: _e,
      client_id_issued_at: _i,
      ...metadata
    } = read.body;
    const updated = await manage('PUT', uri, created.registration_access_token, {
      ...metadata,
      client_name: 'Partner app 2',
    });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(updated.body.client_name, 'Partner app 2');
    assert.deepEqual(updated.body.api_access, { [BANK_API]: ['accounts:read'] });
    const rat = updated.body.registration_access_token;
    assert.notEqual(rat, created.registration_access_token, 'rotated');
    assert.equal((await manage('GET', uri, created.registration_access_token)).status, 401);

    const widen = await manage('PUT', uri, rat, {
      ...metadata,
      api_access: { [BANK_API]: ['accounts:read', 'payments:write'] },
    });
    assert.equal(widen.status, 400);
    assert.equal(widen.body.error, 'invalid_client_metadata');
    const insecure = await manage('PUT', uri, rat, {
      ...metadata,
      redirect_uris: ['http://partner.example/cb'],
    });
    assert.equal(insecure.body.error, 'invalid_redirect_uri');
    const stored = await server.app.services.clients.get(created.client_id);
    assert.equal(stored?.name, 'Partner app 2');
    assert.deepEqual(stored?.redirectUris, [REDIRECT_URI]);

    assert.equal((await manage('DELETE', uri, rat)).status, 204);
    assert.equal(await server.app.services.clients.get(created.client_id), undefined);
    // Protocol events are recorded after the response: wait for the last one.
    const actions = async () =>
      (
        await server.app.services.audit.query({ targetType: 'client', targetId: created.client_id })
      ).events.map((e) => e.action);
    for (let i = 0; i < 50 && !(await actions()).includes('client.deleted'); i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await actions(), ['client.registered', 'client.updated', 'client.deleted']);
  });
});

describe('dynamic client registration switched off', () => {
  test('DYNAMIC_REGISTRATION=false: no /reg, no initial access token routes, nothing in the document', async () => {
    const server = await startTestServer({ env: { DYNAMIC_REGISTRATION: 'false' } });
    try {
      const api = adminApi(server);
      const reg = await fetch(server.url('/reg'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(REGISTRATION),
      });
      assert.equal(reg.status, 404);
      const discovery = (await (
        await fetch(server.url('/.well-known/openid-configuration'))
      ).json()) as Record<string, unknown>;
      assert.equal(discovery.registration_endpoint, undefined);
      const doc = (await api.call('GET', '/openapi.json')).body;
      assert.equal(doc.paths['/initial-access-tokens'], undefined);
      const token = await api.machineToken(['admin:clients']);
      assert.equal((await api.call('GET', '/initial-access-tokens', { token })).status, 404);
    } finally {
      await server.close();
    }
  });
});
