// /admin/v1/users and /admin/v1/roles: search with pagination, status changes, factor reset,
// "sign out everywhere", roles and their members with before/after in the audit log, and the
// refusals (problem+json, nothing written).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HttpBrowser, loginForCode } from '../support/browserless.ts';
import { BANK_API, PASSWORD, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi, assertProblem, enrolTotp, type Reply } from './helpers.ts';

const MISSING = '00000000-0000-4000-8000-000000000009';

describe('admin API: users and roles', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let users: string;
  let roles: string;
  let bank: Awaited<ReturnType<typeof seedBank>>;

  const lastEvent = async (action: string) =>
    (await server.app.services.audit.query({ action, limit: 500 })).events.at(-1);
  const adminEvents = async () =>
    (await server.app.services.audit.query({ limit: 500 })).events.filter(
      (e) => e.details.via === 'admin-api',
    ).length;
  const userCount = async () => (await server.app.services.accounts.search()).total;

  async function refused(request: () => Promise<Reply>, check: (reply: Reply) => void) {
    const [count, events, roleList] = [
      await userCount(),
      await adminEvents(),
      await server.app.services.roles.list(),
    ];
    check(await request());
    assert.equal(await userCount(), count, 'no user written');
    assert.deepEqual(await server.app.services.roles.list(), roleList, 'no role changed');
    assert.equal(await adminEvents(), events, 'no change recorded');
  }

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    bank = await seedBank(server, { firstParty: true });
    users = await api.machineToken(['admin:users']);
    roles = await api.machineToken(['admin:roles']);
  });
  after(() => server.close());

  test('create a user: 201, audited; a weak password or a role in the body is refused', async () => {
    const created = await api.call('POST', '/users', {
      token: users,
      body: { email: 'grace@example.com', name: 'Grace', password: PASSWORD },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.email, 'grace@example.com');
    assert.deepEqual(created.body.roles, []);
    assert.equal(created.body.hasPassword, true);
    assert.ok(!('password' in created.body));
    const event = await lastEvent('user.created');
    assert.deepEqual(event?.target, { type: 'user', id: created.body.id });
    assert.ok(!JSON.stringify(event).includes(PASSWORD));

    await refused(
      () =>
        api.call('POST', '/users', {
          token: users,
          body: { email: 'h@example.com', password: 'password1' },
        }),
      (reply) => {
        assertProblem(reply, 400, 'validation');
        assert.equal(reply.body.errors[0].pointer, '#/password');
      },
    );
    // Roles are admin:roles business: an admin:users token cannot hand them out on creation.
    await refused(
      () =>
        api.call('POST', '/users', {
          token: users,
          body: { email: 'h@example.com', password: PASSWORD, roles: ['customer'] },
        }),
      (reply) =>
        assert.deepEqual(reply.body.errors, [{ pointer: '#/roles', detail: 'unknown field' }]),
    );
    await refused(
      () =>
        api.call('POST', '/users', {
          token: users,
          body: { email: 'grace@example.com', password: PASSWORD },
        }),
      (reply) =>
        assertProblem(reply, 409, 'conflict', 'a user with this email address already exists'),
    );
  });

  test('search pages through users with a total; bad or unknown parameters are named', async () => {
    for (const n of [1, 2, 3]) {
      await server.app.services.accounts.create({
        email: `page${n}@example.com`,
        password: PASSWORD,
      });
    }
    const first = await api.call('GET', '/users?q=PAGE&limit=2', { token: users });
    assert.equal(first.status, 200);
    assert.deepEqual(
      { total: first.body.total, limit: first.body.limit, offset: first.body.offset },
      { total: 3, limit: 2, offset: 0 },
    );
    assert.deepEqual(
      first.body.users.map((u: { email: string }) => u.email),
      ['page1@example.com', 'page2@example.com'],
    );
    const second = await api.call('GET', '/users?q=page&limit=2&offset=2', { token: users });
    assert.deepEqual(
      second.body.users.map((u: { email: string }) => u.email),
      ['page3@example.com'],
    );

    const bad = await api.call('GET', '/users?limit=0&sort=name', { token: users });
    assertProblem(bad, 400, 'validation', '2 fields are not valid');
    assert.deepEqual(bad.body.errors, [
      { parameter: 'limit', detail: 'Too small: expected number to be >=1' },
      { parameter: 'sort', detail: 'unknown field' },
    ]);
    assertProblem(await api.call('GET', '/users/not-a-uuid', { token: users }), 400, 'validation');
    assertProblem(
      await api.call('GET', `/users/${MISSING}`, { token: users }),
      404,
      'not_found',
      `no user ${MISSING}`,
    );
  });

  test('lock, unlock, disable, enable: the status changes and is audited with before and after', async () => {
    const { id } = (await server.app.services.accounts.get('page1@example.com'))!;
    for (const [verb, status, action] of [
      ['lock', 'locked', 'user.locked'],
      ['unlock', 'active', 'user.unlocked'],
      ['disable', 'disabled', 'user.disabled'],
      ['enable', 'active', 'user.enabled'],
    ] as const) {
      const reply = await api.call('POST', `/users/${id}/${verb}`, { token: users });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.status, status);
      assert.equal((await lastEvent(action))?.details.after, status);
    }
    assertProblem(
      await api.call('POST', `/users/${MISSING}/lock`, { token: users }),
      404,
      'not_found',
    );
  });

  test('reset factors removes TOTP, WebAuthn credentials and recovery codes', async () => {
    const { accounts, recoveryCodes, factors } = server.app.services;
    const user = (await accounts.get('page2@example.com'))!;
    await enrolTotp(server, user);
    await recoveryCodes.regenerate(user.id);
    const shown = await api.call('GET', `/users/${user.id}`, { token: users });
    assert.deepEqual(shown.body.factors, {
      totp: true,
      webauthnCredentials: 0,
      recoveryCodesLeft: 10,
    });
    const reset = await api.call('POST', `/users/${user.id}/reset-factors`, { token: users });
    assert.deepEqual(reset.body, {
      userId: user.id,
      removed: { totp: true, webauthnCredentials: 0, recoveryCodes: 10 },
    });
    const after = await factors.summary(user.id);
    assert.deepEqual(
      [after.totp, after.credentials.length, after.recoveryCodesLeft],
      [false, 0, 0],
    );
    assert.deepEqual((await lastEvent('user.factors_reset'))?.details.removed, {
      authenticatorApp: true,
      webauthn: 0,
      recovery: 10,
    });
  });

  test('revoke sessions ends every session, grant and token of the user', async () => {
    const { grants } = server.app.services;
    const browser = new HttpBrowser();
    const { code } = await loginForCode(browser, {
      issuer: server.issuer,
      clientId: bank.client.id,
      redirectUri: REDIRECT_URI,
      scope: 'openid accounts:read',
      resource: BANK_API,
      email: 'alice@example.com',
      password: PASSWORD,
    });
    assert.ok(code);
    assert.equal((await grants.list(bank.alice.id)).length, 1);
    const reply = await api.call('POST', `/users/${bank.alice.id}/revoke-sessions`, {
      token: users,
    });
    assert.equal(reply.status, 200);
    assert.ok(reply.body.revoked >= 2, 'the session and the grant at least');
    assert.deepEqual(await grants.list(bank.alice.id), []);
    const account = await browser.request(server.url('/account'));
    assert.notEqual(account.status, 200, 'the browser session is gone');
  });

  test('roles: create, show, change scopes (before and after audited), delete', async () => {
    const created = await api.call('POST', '/roles', {
      token: roles,
      body: {
        name: 'teller',
        description: 'Branch staff',
        scopes: { [BANK_API]: ['accounts:read'] },
      },
    });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body, {
      name: 'teller',
      description: 'Branch staff',
      scopes: { [BANK_API]: ['accounts:read'] },
      members: 0,
    });
    assert.deepEqual((await api.call('GET', '/roles/teller', { token: roles })).body, created.body);
    const listed = await api.call('GET', '/roles', { token: roles });
    assert.deepEqual(
      listed.body.roles.map((r: { name: string }) => r.name),
      ['customer', 'teller'],
    );
    // A list of names each defined by exactly one API is still accepted, and stored per API.
    const changed = await api.call('PATCH', '/roles/teller', {
      token: roles,
      body: { scopes: ['accounts:read', 'payments:write'] },
    });
    assert.deepEqual(changed.body.scopes, { [BANK_API]: ['accounts:read', 'payments:write'] });
    const event = await lastEvent('role.updated');
    assert.deepEqual(event?.details.before, {
      scopes: { [BANK_API]: ['accounts:read'] },
      description: 'Branch staff',
    });
    assert.deepEqual(event?.details.after, {
      scopes: { [BANK_API]: ['accounts:read', 'payments:write'] },
      description: 'Branch staff',
    });
    assert.equal((await api.call('DELETE', '/roles/teller', { token: roles })).status, 204);
    assertProblem(
      await api.call('GET', '/roles/teller', { token: roles }),
      404,
      'not_found',
      'no role named teller',
    );
  });

  test('roles: unknown scopes, duplicates, bad names and empty changes are refused; nothing written', async () => {
    await refused(
      () => api.call('POST', '/roles', { token: roles, body: { name: 'x', scopes: ['nope:x'] } }),
      (reply) =>
        assertProblem(reply, 400, 'validation', 'no registered API defines the scope nope:x'),
    );
    await refused(
      () =>
        api.call('POST', '/roles', {
          token: roles,
          body: { name: 'x', scopes: { 'https://nope.example': ['accounts:read'] } },
        }),
      (reply) =>
        assertProblem(
          reply,
          400,
          'validation',
          'no API with identifier https://nope.example is registered',
        ),
    );
    await refused(
      () =>
        api.call('POST', '/roles', {
          token: roles,
          body: { name: 'x', scopes: { [BANK_API]: ['ledger:read'] } },
        }),
      (reply) =>
        assertProblem(
          reply,
          400,
          'validation',
          `the API ${BANK_API} does not define the scope ledger:read`,
        ),
    );
    await refused(
      () => api.call('POST', '/roles', { token: roles, body: { name: 'customer', scopes: [] } }),
      (reply) => assertProblem(reply, 409, 'conflict', 'a role named customer already exists'),
    );
    await refused(
      () => api.call('POST', '/roles', { token: roles, body: { name: 'Bad Name', scopes: [] } }),
      (reply) => assert.equal(reply.body.errors[0].pointer, '#/name'),
    );
    await refused(
      () => api.call('PATCH', '/roles/customer', { token: roles, body: {} }),
      (reply) => assertProblem(reply, 400, 'validation', '#/: change at least one field'),
    );
  });

  test("members: assign and unassign, with the user's roles before and after; idempotent", async () => {
    const user = (await server.app.services.accounts.get('page3@example.com'))!;
    const path = `/roles/customer/members/${user.id}`;
    const given = await api.call('PUT', path, { token: roles });
    assert.deepEqual(given.body, {
      role: 'customer',
      userId: user.id,
      changed: true,
      roles: ['customer'],
    });
    const granted = await lastEvent('role.granted');
    assert.deepEqual(granted?.details, {
      role: 'customer',
      before: [],
      after: ['customer'],
      via: 'admin-api',
    });
    assert.equal((await api.call('PUT', path, { token: roles })).body.changed, false);
    const taken = await api.call('DELETE', path, { token: roles });
    assert.deepEqual(taken.body, { role: 'customer', userId: user.id, changed: true, roles: [] });
    assert.deepEqual((await lastEvent('role.revoked'))?.details.before, ['customer']);
    assertProblem(
      await api.call('PUT', `/roles/customer/members/${MISSING}`, { token: roles }),
      404,
      'not_found',
    );
    assertProblem(
      await api.call('PUT', `/roles/nope/members/${user.id}`, { token: roles }),
      404,
      'not_found',
      'no role named nope',
    );
  });
});
