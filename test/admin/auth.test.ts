// Who may call the admin API: 401 without a token or with a bad one (RFC 6750 challenges), 403
// insufficient_scope for every route given a token with another admin scope, machine tokens from
// the real token endpoint, and people: a level-1 sign-in cannot get admin scopes, a level-2 one
// can, and loses them with the role or the account.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { ADMIN_SCOPES, type AdminScope } from '../../src/admin/adminApi.ts';
import { BANK_API, PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { ADMIN_REDIRECT, adminApi, assertProblem, enrolTotp, personLogin } from './helpers.ts';

const REALM = 'Bearer realm="portcullis-admin"';
const invalidTokenHeader = (description: string) =>
  `${REALM}, error="invalid_token", error_description="${description}"`;

describe('admin API authentication', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  const tokens = new Map<AdminScope, string>();
  let consoleClient: { id: string; secret: string };
  let ada: { id: string; email: string };
  let adaTotp: string;

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    const { catalogue, clients, accounts, roles } = server.app.services;
    for (const scope of ADMIN_SCOPES) tokens.set(scope, await api.machineToken([scope]));
    await roles.create({ name: 'administrator', scopes: [...ADMIN_SCOPES] });
    ada = await accounts.create({
      email: 'ada@example.com',
      password: PASSWORD,
      roles: ['administrator'],
    });
    await accounts.create({
      email: 'lev@example.com',
      password: PASSWORD,
      roles: ['administrator'],
    });
    adaTotp = await enrolTotp(server, ada);
    const created = await clients.create({
      name: 'Admin console',
      grantTypes: ['authorization_code'],
      redirectUris: [ADMIN_REDIRECT],
      authMethod: 'client_secret_basic',
      apiAccess: { [api.audience]: [...ADMIN_SCOPES] },
      firstParty: true,
    });
    consoleClient = { id: created.client.clientId, secret: created.secret! };
    await catalogue.create({
      identifier: BANK_API,
      scopes: [{ name: 'accounts:read', description: 'See your accounts' }],
    });
  });
  after(() => server.close());

  test('the admin API is in the catalogue at {ISSUER}/admin/v1, every scope at level 2, read-only', async () => {
    const { catalogue } = server.app.services;
    const found = await catalogue.findByIdentifier(`${server.issuer}/admin/v1`);
    assert.deepEqual(
      found?.scopes.map((s) => [s.name, s.requiredLevel]),
      ADMIN_SCOPES.map((s) => [s, 2]),
    );
    await assert.rejects(catalogue.delete(found!.id), /managed by Portcullis/);
    await assert.rejects(
      catalogue.create({
        identifier: 'https://other.example',
        scopes: [{ name: 'admin:users', description: 'x' }],
      }),
      /reserved/,
    );
  });

  test('without a token: 401 with a bare Bearer challenge and a problem', async () => {
    const reply = await api.call('GET', '/clients');
    assertProblem(reply, 401, 'unauthorized', 'an access token is required');
    assert.equal(reply.headers.get('www-authenticate'), REALM);
    const basic = await api.call('GET', '/clients', { headers: { authorization: 'Basic eDp5' } });
    assert.equal(basic.status, 401);
    assert.equal(basic.headers.get('www-authenticate'), REALM);
  });

  test('a malformed, foreign, expired or mis-typed token: 401 invalid_token saying why', async () => {
    const cases: [string, string][] = [
      ['not-a-jwt', 'the access token is malformed'],
      [
        await api.forge({ sub: 'x', client_id: 'x' }, { typ: 'JWT' }),
        'not an access token (typ at+jwt expected)',
      ],
      [
        await api.forge({ sub: 'x', client_id: 'x', iss: 'https://evil.example' }),
        'the access token was not issued by this server',
      ],
      [
        await api.forge({ sub: 'x', client_id: 'x', exp: Math.floor(Date.now() / 1000) - 3600 }),
        'the access token has expired',
      ],
      [
        await api.forge({ sub: 'x', client_id: 'x', aud: BANK_API }),
        'the access token is not for the admin API',
      ],
    ];
    for (const [token, description] of cases) {
      const reply = await api.call('GET', '/clients', { token });
      assertProblem(reply, 401, 'invalid_token', description);
      assert.equal(reply.body.error, 'invalid_token');
      assert.equal(reply.headers.get('www-authenticate'), invalidTokenHeader(description));
    }
  });

  test("a real token for another API is refused: it is not the admin API's audience", async () => {
    const bankClient = await server.app.services.clients.create({
      name: 'Bank batch',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read'] },
    });
    const config = await oidc.discovery(
      new URL(server.issuer),
      bankClient.client.clientId,
      {},
      oidc.ClientSecretBasic(bankClient.secret!),
      { execute: [oidc.allowInsecureRequests] },
    );
    const { access_token } = await oidc.clientCredentialsGrant(config, { resource: BANK_API });
    const reply = await api.call('GET', '/clients', { token: access_token });
    assertProblem(reply, 401, 'invalid_token', 'the access token is not for the admin API');
  });

  test('DPoP: a Bearer token under the DPoP scheme, a bound token as Bearer: 401 invalid_token', async () => {
    // Sender-constrained tokens themselves: test/admin/senderConstrained.test.ts.
    const dpop = await api.call('GET', '/clients', {
      headers: { authorization: `DPoP ${tokens.get('admin:clients')}` },
    });
    assertProblem(
      dpop,
      401,
      'invalid_token',
      'the access token is not DPoP-bound: send it as Bearer',
    );
    const client = await api.machineClient(['admin:clients']);
    const bound = await api.forge({
      sub: client.id,
      client_id: client.id,
      scope: 'admin:clients',
      cnf: { jkt: 'abc' },
    });
    assertProblem(
      await api.call('GET', '/clients', { token: bound }),
      401,
      'invalid_token',
      'a DPoP-bound access token must be sent with the DPoP scheme',
    );
  });

  test('every route: 401 without a token, 403 insufficient_scope with another admin scope', async () => {
    const doc = (await api.call('GET', '/openapi.json')).body;
    let checked = 0;
    for (const [path, operations] of Object.entries(doc.paths as Record<string, object>)) {
      for (const [method, op] of Object.entries(
        operations as Record<string, { 'x-required-scope'?: AdminScope }>,
      )) {
        const scope = op['x-required-scope'];
        if (!scope) continue;
        const url = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000001');
        const none = await api.call(method.toUpperCase(), url);
        assertProblem(none, 401, 'unauthorized');
        const other = ADMIN_SCOPES.find((s) => s !== scope)!;
        const wrong = await api.call(method.toUpperCase(), url, { token: tokens.get(other) });
        assertProblem(wrong, 403, 'insufficient_scope', `this request needs the scope ${scope}`);
        assert.equal(wrong.body.error, 'insufficient_scope');
        assert.equal(
          wrong.headers.get('www-authenticate'),
          `${REALM}, error="insufficient_scope", scope="${scope}"`,
        );
        checked++;
      }
    }
    assert.ok(checked >= 25, `checked ${checked} operations`);
  });

  test('a refused scope is audited as admin_api.denied; nothing is changed', async () => {
    const before = (await server.app.services.clients.list()).length;
    const reply = await api.call('POST', '/clients', {
      token: tokens.get('admin:audit'),
      body: { name: 'x', grantTypes: ['client_credentials'], apiAccess: {} },
    });
    assert.equal(reply.status, 403);
    assert.equal((await server.app.services.clients.list()).length, before);
    const { events } = await server.app.services.audit.query({ action: 'admin_api.denied' });
    const last = events.at(-1)!;
    assert.equal(last.outcome, 'failure');
    assert.equal(last.actor.type, 'client');
    assert.deepEqual(last.details, { method: 'POST', route: '/clients', scope: 'admin:clients' });
  });

  test('a deleted client, or one no longer allowed the scope, loses access at once', async () => {
    const { clients } = server.app.services;
    const client = await api.machineClient(['admin:apis', 'admin:audit']);
    const token = await api.tokenFor(client);
    assert.equal((await api.call('GET', '/apis', { token })).status, 200);
    await clients.update(client.id, {
      name: 'Automation',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [api.audience]: ['admin:audit'] },
    });
    assertProblem(await api.call('GET', '/apis', { token }), 403, 'insufficient_scope');
    await clients.delete(client.id);
    assertProblem(
      await api.call('GET', '/audit-events', { token }),
      401,
      'invalid_token',
      'the client of this token no longer exists',
    );
  });

  test('a person signed in with a password only is sent to add a second factor, never given an admin scope', async () => {
    const { tokens: got, page } = await personLogin(server, {
      clientId: consoleClient.id,
      clientSecret: consoleClient.secret,
      email: 'lev@example.com',
      password: PASSWORD,
      scope: 'admin:users',
    });
    assert.equal(got, undefined, 'no code was issued');
    assert.match(page.html, /<h1>Add a second factor<\/h1>/);
  });

  test('a person at level 2 calls the API as themselves, until their role or account goes', async () => {
    const { accounts, roles, audit } = server.app.services;
    const { tokens: got } = await personLogin(server, {
      clientId: consoleClient.id,
      clientSecret: consoleClient.secret,
      email: 'ada@example.com',
      password: PASSWORD,
      totpSecret: adaTotp,
      scope: 'admin:users admin:roles',
    });
    assert.ok(got, 'tokens issued');
    assert.deepEqual(got.scope?.split(' ').sort(), ['admin:roles', 'admin:users']);
    const token = got.access_token;
    assert.equal((await api.call('GET', '/users', { token })).status, 200);
    const locked = await api.call(
      'POST',
      `/users/${(await accounts.get('lev@example.com'))!.id}/lock`,
      { token },
    );
    assert.equal(locked.status, 200);
    const event = (await audit.query({ action: 'user.locked' })).events.at(-1)!;
    assert.deepEqual(event.actor, { type: 'admin', id: ada.id });
    assert.equal(event.details.client, consoleClient.id);
    assert.equal(event.details.via, 'admin-api');
    assertProblem(await api.call('GET', '/apis', { token }), 403, 'insufficient_scope');

    await roles.revoke('ada@example.com', 'administrator');
    assertProblem(await api.call('GET', '/users', { token }), 403, 'insufficient_scope');
    await roles.grant('ada@example.com', 'administrator');
    assert.equal((await api.call('GET', '/users', { token })).status, 200);
    await accounts.disable('ada@example.com');
    assertProblem(
      await api.call('GET', '/users', { token }),
      401,
      'invalid_token',
      'the account of this token is not active',
    );
    await accounts.enable('ada@example.com');
  });

  test('defence in depth: a person token below level 2 gets the RFC 9470 step-up challenge', async () => {
    const forged = await api.forge({
      sub: ada.id,
      client_id: consoleClient.id,
      scope: 'admin:users',
      acr: 'urn:portcullis:ac:password',
    });
    const reply = await api.call('GET', '/users', { token: forged });
    assertProblem(reply, 401, 'insufficient_user_authentication');
    assert.equal(
      reply.headers.get('www-authenticate'),
      `${REALM}, error="insufficient_user_authentication", error_description="sign in with a second factor (level 2 or more) for the admin API", acr_values="urn:portcullis:ac:mfa urn:portcullis:ac:phishing-resistant"`,
    );
  });
});
