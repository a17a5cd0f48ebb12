// Nobody hands out a privilege they do not hold: putting admin API scopes on a client, an initial
// access token or a role, or giving someone a role that carries them, needs admin:grant-admin and
// every admin scope handed out. Each refusal is a 403 insufficient_scope problem naming the
// missing scopes, audited as admin_api.denied, with nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_SCOPES } from '../../src/admin/adminApi.ts';
import { BANK_API, PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  ADMIN_REDIRECT,
  adminApi,
  assertProblem,
  enrolTotp,
  personLogin,
  type Reply,
} from './helpers.ts';

const GRANT_ADMIN = 'admin:grant-admin';
const REALM = 'Bearer realm="portcullis-admin"';

describe('admin API: no privilege escalation', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let clientsOnly: string;
  let rolesOnly: string;
  let victim: { id: string; email: string };

  /** Changes recorded through the admin API (refusals carry no `via`). */
  const adminChanges = async () =>
    (await server.app.services.audit.query({ limit: 500 })).events.filter(
      (e) => e.details.via === 'admin-api',
    ).length;
  const lastDenial = async () =>
    (await server.app.services.audit.query({ action: 'admin_api.denied', limit: 500 })).events.at(
      -1,
    );

  /** The exact refusal, its audit event, and no change recorded. */
  async function assertRefused(
    request: () => Promise<Reply>,
    o: { missing: string[]; handing: string[]; method: string; route: string },
  ) {
    const changes = await adminChanges();
    const reply = await request();
    const s = o.missing.length > 1 ? 's' : '';
    assertProblem(
      reply,
      403,
      'insufficient_scope',
      `handing out ${o.handing.join(', ')} needs the scope${s} ${o.missing.join(', ')}`,
    );
    assert.equal(reply.body.error, 'insufficient_scope');
    assert.equal(
      reply.headers.get('www-authenticate'),
      `${REALM}, error="insufficient_scope", scope="${o.missing.join(' ')}"`,
    );
    const denial = await lastDenial();
    assert.equal(denial?.outcome, 'failure');
    assert.deepEqual(denial?.details, {
      method: o.method,
      route: o.route,
      scope: o.missing.join(' '),
      granting: o.handing,
    });
    assert.equal(await adminChanges(), changes, 'no change recorded');
  }

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    const { catalogue, roles, accounts } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      scopes: [{ name: 'accounts:read', description: 'See your accounts' }],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read'] });
    await roles.create({ name: 'administrator', scopes: [...ADMIN_SCOPES] });
    victim = await accounts.create({ email: 'vic@example.com', password: PASSWORD });
    clientsOnly = await api.machineToken(['admin:clients']);
    rolesOnly = await api.machineToken(['admin:roles']);
  });
  after(() => server.close());

  test('admin:clients alone cannot create a client with admin scopes, not even its own', async () => {
    const { clients } = server.app.services;
    const before = (await clients.list()).length;
    for (const scopes of [['admin:users', 'admin:roles'], ['admin:clients']]) {
      await assertRefused(
        () =>
          api.call('POST', '/clients', {
            token: clientsOnly,
            body: {
              name: 'Escalator',
              grantTypes: ['client_credentials'],
              apiAccess: { [api.audience]: scopes, [BANK_API]: ['accounts:read'] },
            },
          }),
        {
          missing: [GRANT_ADMIN, ...scopes.filter((s) => s !== 'admin:clients').sort()],
          handing: [...scopes].sort(),
          method: 'POST',
          route: '/clients',
        },
      );
    }
    assert.equal((await clients.list()).length, before, 'no client created');
  });

  test('admin:clients alone cannot replace a client to give it admin scopes, nor take over one that has them', async () => {
    const { clients } = server.app.services;
    const plain = await api.call('POST', '/clients', {
      token: clientsOnly,
      body: {
        name: 'Reports',
        grantTypes: ['client_credentials'],
        apiAccess: { [BANK_API]: ['accounts:read'] },
      },
    });
    assert.equal(plain.status, 201, 'a client without admin scopes is fine');
    const id = plain.body.client.clientId;
    const before = await clients.get(id);
    await assertRefused(
      () =>
        api.call('PUT', `/clients/${id}`, {
          token: clientsOnly,
          body: {
            name: 'Reports',
            grantTypes: ['client_credentials'],
            apiAccess: { [api.audience]: ['admin:users'] },
          },
        }),
      {
        missing: [GRANT_ADMIN, 'admin:users'],
        handing: ['admin:users'],
        method: 'PUT',
        route: '/clients/{clientId}',
      },
    );
    assert.deepEqual(await clients.get(id), before, 'the client is unchanged');

    // An existing admin client: new credentials for it would hand over its scopes.
    const automation = await api.machineClient(['admin:users', 'admin:roles'], 'Ops automation');
    const adminBefore = await clients.get(automation.id);
    await assertRefused(
      () =>
        api.call('PUT', `/clients/${automation.id}`, {
          token: clientsOnly,
          body: {
            name: 'Ops automation',
            grantTypes: ['client_credentials'],
            apiAccess: { [api.audience]: ['admin:roles', 'admin:users'] },
          },
        }),
      {
        missing: [GRANT_ADMIN, 'admin:roles', 'admin:users'],
        handing: ['admin:roles', 'admin:users'],
        method: 'PUT',
        route: '/clients/{clientId}',
      },
    );
    await assertRefused(
      () => api.call('POST', `/clients/${automation.id}/secret`, { token: clientsOnly }),
      {
        missing: [GRANT_ADMIN, 'admin:roles', 'admin:users'],
        handing: ['admin:roles', 'admin:users'],
        method: 'POST',
        route: '/clients/{clientId}/secret',
      },
    );
    assert.deepEqual(
      await clients.get(automation.id),
      adminBefore,
      'the admin client is unchanged',
    );
    assert.ok(await api.tokenFor(automation), 'its secret still works: it was not rotated');
  });

  test('admin:clients alone cannot issue an initial access token carrying admin scopes', async () => {
    const { registration } = server.app.services;
    const before = (await registration.list()).length;
    await assertRefused(
      () =>
        api.call('POST', '/initial-access-tokens', {
          token: clientsOnly,
          body: { description: 'partner', apiAccess: { [api.audience]: ['admin:audit'] } },
        }),
      {
        missing: [GRANT_ADMIN, 'admin:audit'],
        handing: ['admin:audit'],
        method: 'POST',
        route: '/initial-access-tokens',
      },
    );
    assert.equal((await registration.list()).length, before, 'no initial access token issued');
  });

  test('admin:roles alone cannot create a role with admin scopes', async () => {
    await assertRefused(
      () =>
        api.call('POST', '/roles', {
          token: rolesOnly,
          body: { name: 'sneaky', scopes: ['admin:users', 'accounts:read'] },
        }),
      {
        missing: [GRANT_ADMIN, 'admin:users'],
        handing: ['admin:users'],
        method: 'POST',
        route: '/roles',
      },
    );
    assert.equal(await server.app.services.roles.get('sneaky'), undefined, 'no role created');
  });

  test('admin:roles alone cannot add admin scopes to a role', async () => {
    const { roles } = server.app.services;
    const before = await roles.get('customer');
    await assertRefused(
      () =>
        api.call('PATCH', '/roles/customer', {
          token: rolesOnly,
          body: { scopes: ['accounts:read', 'admin:roles'] },
        }),
      {
        missing: [GRANT_ADMIN],
        handing: ['admin:roles'],
        method: 'PATCH',
        route: '/roles/{name}',
      },
    );
    assert.deepEqual(await roles.get('customer'), before, 'the role is unchanged');
  });

  test('admin:roles alone cannot give anyone a role carrying admin scopes', async () => {
    await assertRefused(
      () => api.call('PUT', `/roles/administrator/members/${victim.id}`, { token: rolesOnly }),
      {
        missing: [
          GRANT_ADMIN,
          ...ADMIN_SCOPES.filter((s) => s !== 'admin:roles' && s !== GRANT_ADMIN),
        ],
        handing: [...ADMIN_SCOPES].sort(),
        method: 'PUT',
        route: '/roles/{name}/members/{userId}',
      },
    );
    assert.deepEqual((await server.app.services.accounts.get(victim.id))?.roles, []);
    // A role without admin scopes is still admin:roles' business alone.
    const given = await api.call('PUT', `/roles/customer/members/${victim.id}`, {
      token: rolesOnly,
    });
    assert.equal(given.status, 200);
    assert.deepEqual(given.body.roles, ['customer']);
  });

  test('a person holding only admin:roles cannot make themselves an administrator', async () => {
    const { accounts, roles, clients } = server.app.services;
    await roles.create({ name: 'role-manager', scopes: ['admin:roles'] });
    const rita = await accounts.create({
      email: 'rita@example.com',
      password: PASSWORD,
      roles: ['role-manager'],
    });
    const totpSecret = await enrolTotp(server, rita);
    const adminConsole = await clients.create({
      name: 'Admin console',
      grantTypes: ['authorization_code'],
      redirectUris: [ADMIN_REDIRECT],
      authMethod: 'client_secret_basic',
      apiAccess: { [api.audience]: ['admin:roles', 'admin:users'] },
      firstParty: true,
    });
    const { tokens } = await personLogin(server, {
      clientId: adminConsole.client.clientId,
      clientSecret: adminConsole.secret!,
      email: rita.email,
      password: PASSWORD,
      totpSecret,
      scope: 'admin:roles',
    });
    assert.equal(tokens?.scope, 'admin:roles');
    await assertRefused(
      () =>
        api.call('PUT', `/roles/administrator/members/${rita.id}`, {
          token: tokens!.access_token,
        }),
      {
        missing: [
          GRANT_ADMIN,
          ...ADMIN_SCOPES.filter((s) => s !== 'admin:roles' && s !== GRANT_ADMIN),
        ],
        handing: [...ADMIN_SCOPES].sort(),
        method: 'PUT',
        route: '/roles/{name}/members/{userId}',
      },
    );
    assert.deepEqual((await accounts.get(rita.id))?.roles, ['role-manager'], 'still not an admin');
    assert.equal((await lastDenial())?.actor.id, rita.id);
  });

  test('with admin:grant-admin a caller hands out the admin scopes it holds, and only those', async () => {
    const { clients, roles, accounts } = server.app.services;
    const token = await api.machineToken([
      'admin:clients',
      'admin:roles',
      'admin:users',
      GRANT_ADMIN,
    ]);
    const created = await api.call('POST', '/clients', {
      token,
      body: {
        name: 'User sync',
        grantTypes: ['client_credentials'],
        apiAccess: { [api.audience]: ['admin:users'] },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.client.apiAccess, { [api.audience]: ['admin:users'] });
    const id = created.body.client.clientId;
    const replaced = await api.call('PUT', `/clients/${id}`, {
      token,
      body: {
        name: 'User sync',
        grantTypes: ['client_credentials'],
        apiAccess: { [api.audience]: ['admin:roles', 'admin:users'] },
      },
    });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.equal((await api.call('POST', `/clients/${id}/secret`, { token })).status, 200);
    const issued = await api.call('POST', '/initial-access-tokens', {
      token,
      body: { description: 'sync', apiAccess: { [api.audience]: ['admin:users'] } },
    });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));

    const role = await api.call('POST', '/roles', {
      token,
      body: { name: 'user-admin', scopes: { [api.audience]: ['admin:users'] } },
    });
    assert.equal(role.status, 201, JSON.stringify(role.body));
    assert.deepEqual(role.body.scopes, { [api.audience]: ['admin:users'] });
    const member = await api.call('PUT', `/roles/user-admin/members/${victim.id}`, { token });
    assert.equal(member.status, 200, JSON.stringify(member.body));
    assert.deepEqual((await accounts.get(victim.id))?.roles, ['customer', 'user-admin']);

    // Scopes it does not hold stay out of reach, grant-admin or not.
    const clientCount = (await clients.list()).length;
    await assertRefused(
      () =>
        api.call('POST', '/clients', {
          token,
          body: {
            name: 'Wider',
            grantTypes: ['client_credentials'],
            apiAccess: { [api.audience]: ['admin:apis', 'admin:users'] },
          },
        }),
      {
        missing: ['admin:apis'],
        handing: ['admin:apis', 'admin:users'],
        method: 'POST',
        route: '/clients',
      },
    );
    assert.equal((await clients.list()).length, clientCount);
    const before = await roles.get('user-admin');
    await assertRefused(
      () =>
        api.call('PATCH', '/roles/user-admin', {
          token,
          body: { scopes: { [api.audience]: ['admin:audit', 'admin:users'] } },
        }),
      {
        missing: ['admin:audit'],
        handing: ['admin:audit'],
        method: 'PATCH',
        route: '/roles/{name}',
      },
    );
    assert.deepEqual(await roles.get('user-admin'), before);
  });
});
