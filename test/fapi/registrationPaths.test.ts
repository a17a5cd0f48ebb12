// Every way a client comes to be is a way to make it fapi2: the CLI (`client create --profile
// fapi2`, shown by `client show`/`client list`), the admin API's client resource, and RFC 7591
// registration with an initial access token issued for FAPI 2.0 clients (metadata the profile
// forbids refused with invalid_client_metadata, nothing stored). A registered one signs in.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adminApi } from '../admin/helpers.ts';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { clientKey, fapiFlow, PAYMENTS, seedPayments, TPP_REDIRECT } from './world.ts';

describe('fapi2 clients through the CLI', () => {
  let env: Record<string, string>;
  let db: TestDatabase | undefined;

  before(async () => {
    ({ env, db } = await cliEnv());
    const api = await runCli(
      ['api', 'create', '--identifier', PAYMENTS, '--scope', 'payments:write=Make payments'],
      env,
    );
    assert.equal(api.code, 0, api.stderr);
  });
  after(() => db?.drop());

  const jwksFile = async () => {
    const { publicJwk } = await clientKey();
    const file = join(tmpdir(), `tpp-${process.pid}-${Date.now()}.jwks.json`);
    writeFileSync(file, JSON.stringify({ keys: [publicJwk] }));
    return file;
  };
  const tppArgs = [
    '--name',
    'Acme TPP',
    '--grant',
    'authorization_code',
    '--redirect-uri',
    TPP_REDIRECT,
    '--api',
    PAYMENTS,
  ];

  test('client create --profile fapi2: private_key_jwt by default, shown and listed as fapi2', async () => {
    const created = await runCli(
      [
        'client',
        'create',
        ...tppArgs,
        '--profile',
        'fapi2',
        '--jwks-file',
        await jwksFile(),
        '--json',
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const client = JSON.parse(created.stdout);
    assert.equal(client.profile, 'fapi2');
    assert.equal(client.authMethod, 'private_key_jwt');
    assert.equal(client.clientSecret, undefined);

    const shown = await runCli(['client', 'show', client.clientId], env);
    assert.match(shown.stdout, /^profile\s+fapi2$/m);
    const listed = await runCli(['client', 'list'], env);
    const header = listed.stdout.split('\n')[0]!;
    assert.match(header, /^CLIENT_ID\s+NAME\s+PROFILE\s+AUTH/);
    const row = listed.stdout.split('\n').find((l) => l.startsWith(client.clientId))!;
    assert.match(row, /\bfapi2\b/);
    const json = JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout);
    assert.equal(
      json.find((c: { clientId: string }) => c.clientId === client.clientId).profile,
      'fapi2',
    );
    // A default client is listed as such.
    const plain = await runCli(['client', 'create', ...tppArgs, '--json'], env);
    assert.equal(JSON.parse(plain.stdout).profile, 'default');
  });

  test('client create --profile fapi2 with a secret, or an unknown profile, fails with one line', async () => {
    const before = JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout).length;
    assertOneLineError(
      await runCli(
        ['client', 'create', ...tppArgs, '--profile', 'fapi2', '--auth', 'client_secret_basic'],
        env,
      ),
      'authMethod: a fapi2 client authenticates with private_key_jwt, tls_client_auth, self_signed_tls_client_auth (not client_secret_basic)',
    );
    assertOneLineError(
      await runCli(['client', 'create', ...tppArgs, '--profile', 'fapi1'], env),
      '--profile must be one of default, fapi2',
    );
    const after = JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout).length;
    assert.equal(after, before);
  });
});

describe('fapi2 clients through the admin API and dynamic registration', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let token: string;
  let person: { email: string };

  before(async () => {
    server = await startTestServer();
    person = await seedPayments(server);
    api = adminApi(server);
    token = await api.machineToken(['admin:clients']);
  });
  after(() => server.close());

  test('admin API: profile fapi2 created, shown, kept when replaced without it, audited', async () => {
    const { publicJwk } = await clientKey();
    const body = {
      name: 'Acme TPP',
      grantTypes: ['authorization_code'],
      redirectUris: [TPP_REDIRECT],
      authMethod: 'private_key_jwt',
      jwks: { keys: [publicJwk] },
      apiAccess: { [PAYMENTS]: ['payments:write'] },
    };
    const created = await api.call('POST', '/clients', {
      token,
      body: { ...body, profile: 'fapi2' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.client.clientId;
    assert.equal(created.body.client.profile, 'fapi2');
    assert.equal((await api.call('GET', `/clients/${id}`, { token })).body.profile, 'fapi2');
    const listed = (await api.call('GET', '/clients', { token })).body.clients;
    assert.equal(listed.find((c: { clientId: string }) => c.clientId === id).profile, 'fapi2');

    const replaced = await api.call('PUT', `/clients/${id}`, {
      token,
      body: { ...body, name: 'Acme' },
    });
    assert.equal(replaced.body.client.profile, 'fapi2', 'kept');
    const downgraded = await api.call('PUT', `/clients/${id}`, {
      token,
      body: { ...body, profile: 'default' },
    });
    assert.equal(downgraded.body.client.profile, 'default', 'only when asked');
  });

  test('admin API: a fapi2 client with a secret is refused with the field at fault; nothing stored', async () => {
    const before = (await server.app.services.clients.list()).length;
    const res = await api.call('POST', '/clients', {
      token,
      body: {
        name: 'Acme TPP',
        grantTypes: ['authorization_code'],
        redirectUris: [TPP_REDIRECT],
        authMethod: 'client_secret_basic',
        apiAccess: { [PAYMENTS]: ['payments:write'] },
        profile: 'fapi2',
      },
    });
    assert.equal(res.status, 400);
    assert.equal(
      res.body.detail,
      'a fapi2 client authenticates with private_key_jwt, tls_client_auth, self_signed_tls_client_auth (not client_secret_basic)',
    );
    assert.deepEqual(res.body.errors?.[0]?.pointer, '#/authMethod');
    assert.equal((await server.app.services.clients.list()).length, before);
  });

  const register = async (body: unknown, bearer: string) => {
    const res = await fetch(server.url('/reg'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify(body),
    });
    // biome-ignore lint/suspicious/noExplicitAny: RFC 7591 responses
    return { status: res.status, body: (await res.json()) as any };
  };

  test('an initial access token for FAPI 2.0 clients: secrets refused, a private_key_jwt client registered fapi2 and signing in', async () => {
    const issued = await api.call('POST', '/initial-access-tokens', {
      token,
      body: {
        description: 'Acme TPP',
        apiAccess: { [PAYMENTS]: ['payments:write'] },
        profile: 'fapi2',
        singleUse: false,
      },
    });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    assert.equal(issued.body.profile, 'fapi2');
    const listed = (await api.call('GET', '/initial-access-tokens', { token })).body;
    assert.equal(listed.initialAccessTokens[0].profile, 'fapi2');

    const before = (await server.app.services.clients.list()).length;
    for (const method of ['client_secret_basic', 'client_secret_post', 'none']) {
      const refused = await register(
        {
          client_name: 'Acme',
          redirect_uris: [TPP_REDIRECT],
          token_endpoint_auth_method: method,
        },
        issued.body.token,
      );
      assert.equal(refused.status, 400, method);
      assert.equal(refused.body.error, 'invalid_client_metadata');
      assert.equal(
        refused.body.error_description,
        `token_endpoint_auth_method: a fapi2 client authenticates with private_key_jwt, tls_client_auth, self_signed_tls_client_auth (not ${method})`,
      );
    }
    const refusedProfile = await register(
      { client_name: 'Acme', redirect_uris: [TPP_REDIRECT], profile: 'default' },
      issued.body.token,
    );
    assert.equal(refusedProfile.body.error, 'invalid_client_metadata');
    assert.equal(
      refusedProfile.body.error_description,
      'profile is decided by the administrator who issued the initial access token',
    );
    assert.equal((await server.app.services.clients.list()).length, before, 'nothing stored');

    const key = await clientKey();
    const registered = await register(
      {
        client_name: 'Acme',
        redirect_uris: [TPP_REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [key.publicJwk] },
        dpop_bound_access_tokens: true,
      },
      issued.body.token,
    );
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    assert.equal(registered.body.profile, 'fapi2');
    assert.equal(registered.body.dpop_bound_access_tokens, true);
    assert.equal(registered.body.require_pushed_authorization_requests, true);
    assert.equal(registered.body.client_secret, undefined);
    const id = registered.body.client_id;
    assert.equal((await server.app.services.clients.get(id))?.profile, 'fapi2');

    const { tokens } = await fapiFlow(server, { id, ...key }, person.email);
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
  });

  test('a default initial access token still registers default clients', async () => {
    const issued = await api.call('POST', '/initial-access-tokens', {
      token,
      body: { description: 'Partner', apiAccess: { [PAYMENTS]: ['payments:write'] } },
    });
    assert.equal(issued.body.profile, 'default');
    const registered = await register(
      {
        client_name: 'Partner',
        redirect_uris: [TPP_REDIRECT],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      issued.body.token,
    );
    assert.equal(registered.status, 201);
    assert.equal(registered.body.profile, undefined);
    assert.equal(
      (await server.app.services.clients.get(registered.body.client_id))?.profile,
      'default',
    );
  });
});
