// The migration to per-API role scopes keeps today's effective access (a bare name becomes one
// pair per API defining it), gives admin:grant-admin only to full administrator roles, and from
// then on an API's deletion, or a scope's removal from it, takes the scope from every role.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { down, up } from '../../migrations/202612010001_role_scopes_per_api.ts';
import { ADMIN_API_ID } from '../../src/admin/adminApi.ts';
import { systemClock } from '../../src/clock.ts';
import { createCatalogue } from '../../src/oidc/catalogue.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const A = '00000000-0000-4000-8000-0000000000a1';
const B = '00000000-0000-4000-8000-0000000000b1';
const C = '00000000-0000-4000-8000-0000000000c1';
const ROLE = {
  mixed: '00000000-0000-4000-8000-000000000001',
  admin: '00000000-0000-4000-8000-000000000002',
  partial: '00000000-0000-4000-8000-000000000003',
};
const ADMIN_FIVE = ['admin:apis', 'admin:audit', 'admin:clients', 'admin:roles', 'admin:users'];

describe('migration 202612010001: role scopes per API', () => {
  let db: TestDatabase;
  const rows = async (roleId: string) =>
    (
      await db
        .knex('role_scopes')
        .where({ role_id: roleId })
        .select('api_id', 'scope')
        .orderBy(['api_id', 'scope'])
    ).map((r) => `${r.api_id} ${r.scope}`);

  before(async () => {
    db = await createTestDatabase();
    const { knex } = db;
    const now = new Date();
    const api = (id: string, identifier: string) => ({
      id,
      identifier,
      name: identifier,
      created_at: now,
      updated_at: now,
    });
    await knex('apis').insert([
      api(A, 'https://a.example'),
      api(B, 'https://b.example'),
      api(C, 'https://c.example'),
      api(ADMIN_API_ID, 'http://localhost:3000/admin/v1'),
    ]);
    const scope = (api_id: string, name: string) => ({ api_id, name, description: name });
    await knex('api_scopes').insert([
      scope(A, 'write'),
      scope(B, 'write'),
      scope(B, 'read'),
      scope(C, 'read'),
      ...ADMIN_FIVE.map((s) => ({ ...scope(ADMIN_API_ID, s), required_level: 2 })),
    ]);
    await knex('roles').insert(
      Object.entries(ROLE).map(([name, id]) => ({ id, name, created_at: now, updated_at: now })),
    );
    // The schema as it was: bare scope names.
    await down(knex);
    await knex('role_scopes').insert([
      { role_id: ROLE.mixed, scope: 'write' },
      { role_id: ROLE.mixed, scope: 'read' },
      { role_id: ROLE.mixed, scope: 'gone:scope' },
      ...ADMIN_FIVE.map((s) => ({ role_id: ROLE.admin, scope: s })),
      { role_id: ROLE.partial, scope: 'admin:roles' },
    ]);
    await up(knex);
  });
  after(() => db.drop());

  test('a bare name becomes one pair per API defining it; a name no API defines goes', async () => {
    assert.deepEqual(await rows(ROLE.mixed), [
      `${A} write`,
      `${B} read`,
      `${B} write`,
      `${C} read`,
    ]);
  });

  test('only a role holding every other admin scope gets admin:grant-admin', async () => {
    assert.deepEqual(
      await rows(ROLE.admin),
      [...ADMIN_FIVE, 'admin:grant-admin'].sort().map((s) => `${ADMIN_API_ID} ${s}`),
    );
    assert.deepEqual(await rows(ROLE.partial), [`${ADMIN_API_ID} admin:roles`]);
  });

  test("removing a scope from an API, or deleting the API, takes it from roles; the API's other scopes stay", async () => {
    const catalogue = createCatalogue({ knex: db.knex, clock: systemClock, cacheSeconds: 0 });
    await catalogue.update(B, { scopes: [{ name: 'read', description: 'read, reworded' }] });
    assert.deepEqual(await rows(ROLE.mixed), [`${A} write`, `${B} read`, `${C} read`]);
    await catalogue.delete(C);
    assert.deepEqual(await rows(ROLE.mixed), [`${A} write`, `${B} read`]);
    await assert.rejects(
      db.knex('role_scopes').insert({ role_id: ROLE.mixed, api_id: A, scope: 'read' }),
      /role_scopes_api_scope_fk/,
      'a pair the API does not define cannot be stored',
    );
  });
});
