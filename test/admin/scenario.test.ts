// The whole story as an operator lives it: `portcullis admin bootstrap` (once; --force for more),
// the database moved to another issuer (the admin API and its clients follow), the admin API
// driven with the bootstrap client's token, a person signing in, then `portcullis access-review`
// and `portcullis audit verify` — intact, then broken by a direct edit, naming the row.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_API_ID, ADMIN_SCOPES, MANAGEMENT_SCOPES } from '../../src/admin/adminApi.ts';
import { connectDatabase } from '../../src/db/connect.ts';
import { HttpBrowser, loginForCode } from '../support/browserless.ts';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';
import { BANK_API, PASSWORD, REDIRECT_URI } from '../support/fixtures.ts';
import { startTestServer } from '../support/server.ts';
import { adminApi } from './helpers.ts';

describe('admin bootstrap, the admin API end to end, access review and audit verify', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;
  let bootstrap: { client: { clientId: string }; clientSecret: string; user: { id: string } };

  /** The CLI's database, opened here while no command runs (the embedded one has one user). */
  async function database(): Promise<TestDatabase> {
    if (db) return { ...db, drop: async () => {} };
    const opened = await connectDatabase({ embeddedDir: env.DATA_DIR });
    return { ...opened, url: undefined, drop: () => opened.close() };
  }
  const count = async (table: string) => {
    const d = await database();
    try {
      return Number((await d.knex(table).count<{ n: number }[]>('* as n'))[0]!.n);
    } finally {
      await d.drop();
    }
  };

  before(async () => {
    ({ env, db } = await cliEnv());
  });
  after(async () => {
    await db?.drop();
  });

  test('bootstrap creates the administrator and an automation client, printing its secret once', async () => {
    const result = await runCli(
      ['admin', 'bootstrap', '--email', 'root@example.com', '--name', 'Root', '--json'],
      env,
      PASSWORD,
    );
    assert.equal(result.code, 0, result.stderr);
    bootstrap = JSON.parse(result.stdout);
    const out = JSON.parse(result.stdout);
    assert.deepEqual(out.user.roles, ['administrator']);
    assert.deepEqual(out.role, {
      name: 'administrator',
      scopes: { 'http://localhost:3000/admin/v1': [...ADMIN_SCOPES] },
    });
    // The automation client may manage everything but cannot hand out admin scopes.
    assert.deepEqual(out.client.scopes, [...MANAGEMENT_SCOPES]);
    assert.match(out.clientSecret, /^[\w-]{43}$/);
    assert.equal(out.audience, 'http://localhost:3000/admin/v1');
    const list = JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout);
    const client = list.find((c: { clientId: string }) => c.clientId === out.client.clientId);
    assert.ok(!JSON.stringify(client).includes(out.clientSecret), 'never shown again');
    assert.deepEqual(client.grantTypes, ['client_credentials']);
  });

  test('a second bootstrap is refused in one line and writes nothing; --force adds an administrator', async () => {
    const [users, clients] = [await count('users'), await count('clients')];
    assertOneLineError(
      await runCli(['admin', 'bootstrap', '--email', 'two@example.com'], env, PASSWORD),
      'an administrator role (administrator) already exists: run with --force to add another administrator',
    );
    assertOneLineError(
      await runCli(
        ['admin', 'bootstrap', '--email', 'two@example.com', '--force'],
        env,
        'password',
      ),
      'password: This is a heavily used password. Add more words that are less common.',
    );
    assert.deepEqual([await count('users'), await count('clients')], [users, clients]);
    const forced = await runCli(
      ['admin', 'bootstrap', '--email', 'two@example.com', '--force', '--client-grant-admin'],
      env,
      PASSWORD,
    );
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(
      forced.stdout,
      /^administrator: two@example.com \([0-9a-f-]{36}\), role administrator$/m,
    );
    assert.match(forced.stdout, /^client_secret: [\w-]{43}$/m);
    // --client-grant-admin: this automation client may hand out the admin scopes it holds.
    assert.match(
      forced.stdout,
      new RegExp(
        `^admin client for automation \\(client credentials\\): ${ADMIN_SCOPES.join(' ')}$`,
        'm',
      ),
    );
    assert.deepEqual([await count('users'), await count('clients')], [users + 1, clients + 1]);
  });

  test('moved to a new issuer, the admin API follows, the bootstrap client drives it, people sign in', async () => {
    const shared = await database();
    const server = await startTestServer({ db: shared, env });
    try {
      const api = adminApi(server);
      const { catalogue } = server.app.services;
      // Starting under another ISSUER moves nothing; `portcullis issuer set` (this call) does.
      const adminIdentifier = async () => (await catalogue.get(ADMIN_API_ID))?.identifier;
      assert.equal(await adminIdentifier(), 'http://localhost:3000/admin/v1');
      await server.app.issuer.change(server.issuer);
      assert.equal(await adminIdentifier(), `${server.issuer}/admin/v1`);
      const token = await api.tokenFor({
        id: bootstrap.client.clientId,
        secret: bootstrap.clientSecret,
      });
      const call = (method: string, path: string, body?: unknown) =>
        api.call(method, path, { token, body });
      assert.equal((await call('GET', '/audit-events?limit=1')).status, 200);
      assert.equal(
        (
          await call('POST', '/apis', {
            identifier: BANK_API,
            scopes: [
              { name: 'accounts:read', description: 'See your accounts' },
              { name: 'payments:write', description: 'Make payments', requiredLevel: 2 },
            ],
          })
        ).status,
        201,
      );
      assert.equal(
        (
          await call('POST', '/roles', {
            name: 'customer',
            scopes: ['accounts:read', 'payments:write'],
          })
        ).status,
        201,
      );
      const alice = (
        await call('POST', '/users', { email: 'alice@example.com', password: PASSWORD })
      ).body;
      assert.equal((await call('PUT', `/roles/customer/members/${alice.id}`)).status, 200);
      const web = (
        await call('POST', '/clients', {
          name: 'Budget Planner',
          grantTypes: ['authorization_code'],
          redirectUris: [REDIRECT_URI],
          apiAccess: { [BANK_API]: ['accounts:read', 'payments:write'] },
          firstParty: true,
        })
      ).body;
      const { code, verifier } = await loginForCode(new HttpBrowser(), {
        issuer: server.issuer,
        clientId: web.client.clientId,
        redirectUri: REDIRECT_URI,
        scope: 'openid accounts:read',
        resource: BANK_API,
        email: 'alice@example.com',
        password: PASSWORD,
      });
      const redeemed = await fetch(server.url('/token'), {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${web.client.clientId}:${web.clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: code!,
          code_verifier: verifier,
          redirect_uri: REDIRECT_URI,
          resource: BANK_API,
        }),
      });
      assert.equal(redeemed.status, 200);
      assert.equal((await call('POST', `/users/${alice.id}/revoke-sessions`)).status, 200);
      // Let the protocol events (recorded after each response) reach the log.
      await new Promise((r) => setTimeout(r, 200));
      // Back to the issuer the CLI runs under, so the commands below run without a warning.
      await server.app.issuer.change('http://localhost:3000');
      assert.equal(await adminIdentifier(), 'http://localhost:3000/admin/v1');
    } finally {
      await server.close();
      await shared.drop();
    }
  });

  test('access-review lists users, their scopes, last sign-in and unused scopes', async () => {
    const table = await runCli(['access-review'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^EMAIL\s+STATUS\s+ROLES\s+SCOPES\s+LAST_LOGIN\s+UNUSED$/m);
    const json = await runCli(['access-review', '--unused-days', '30', '--json'], env);
    const review = JSON.parse(json.stdout);
    assert.equal(review.unusedDays, 30);
    const alice = review.users.find((u: { email: string }) => u.email === 'alice@example.com');
    assert.deepEqual(alice.roles, ['customer']);
    assert.deepEqual(alice.scopes, { [BANK_API]: ['accounts:read', 'payments:write'] });
    assert.deepEqual(
      alice.unusedScopes,
      { [BANK_API]: ['payments:write'] },
      'accounts:read was in a token',
    );
    assert.ok(alice.lastLoginAt);
    const root = review.users.find((u: { email: string }) => u.email === 'root@example.com');
    assert.deepEqual(root.unusedScopes, { 'http://localhost:3000/admin/v1': [...ADMIN_SCOPES] });
    assert.equal(root.lastLoginAt, null);
    assertOneLineError(
      await runCli(['access-review', '--unused-days', 'soon'], env),
      '--unused-days must be a whole number from 1 to 3650',
    );
  });

  test('audit verify passes after it all, and names the row a direct edit altered', async () => {
    const intact = await runCli(['audit', 'verify'], env);
    assert.equal(intact.code, 0, intact.stderr);
    assert.match(intact.stdout, /^audit chain intact: \d+ events\n$/);
    const d = await database();
    let seq: number;
    try {
      const row = await d
        .knex('audit_events')
        .where({ action: 'role.granted' })
        .orderBy('seq', 'desc')
        .first('seq');
      seq = Number(row.seq);
      await d
        .knex('audit_events')
        .where({ seq })
        .update({ details: JSON.stringify({ role: 'customer' }) });
    } finally {
      await d.drop();
    }
    assertOneLineError(
      await runCli(['audit', 'verify'], env),
      `audit chain broken at event #${seq}: its content was altered`,
    );
  });
});
