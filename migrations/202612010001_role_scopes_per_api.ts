// Role scopes become (API, scope) pairs: scope names are unique only within one API, so a role
// meant for one API's `write` must not yield another API's `write`. Each row now names its API;
// deleting the API, or removing the scope from it, removes the row (cascades).
//
// Existing rows named a bare scope, honoured on every API defining that name: each becomes one
// row per API that defines the name, which keeps today's effective access exactly. A bare name
// no API defines granted nothing, and is dropped.
//
// The admin API gains the scope admin:grant-admin (handing out admin scopes needs it). A role
// that already holds every other admin scope could hand them all out until now; it is given
// admin:grant-admin so that such administrators keep what they could do. No one else gets it.
import type { Knex } from 'knex';

/** src/admin/adminApi.ts ADMIN_API_ID: the admin API's fixed id in the catalogue. */
const ADMIN_API_ID = '00000000-0000-4000-8000-00000000ad01';
const MANAGEMENT_SCOPES = [
  'admin:apis',
  'admin:audit',
  'admin:clients',
  'admin:roles',
  'admin:users',
];

export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table role_scopes drop constraint role_scopes_pkey');
  await knex.schema.alterTable('role_scopes', (t) => {
    t.uuid('api_id');
  });
  await knex.raw(
    `insert into role_scopes (role_id, scope, api_id)
     select rs.role_id, rs.scope, s.api_id
     from role_scopes rs join api_scopes s on s.name = rs.scope
     where rs.api_id is null`,
  );
  await knex('role_scopes').whereNull('api_id').delete();
  await knex.raw('alter table role_scopes alter column api_id set not null');
  await knex.raw('alter table role_scopes add primary key (role_id, api_id, scope)');
  await knex.raw(
    `alter table role_scopes add constraint role_scopes_api_fk
     foreign key (api_id) references apis (id) on delete cascade`,
  );
  await knex.raw(
    `alter table role_scopes add constraint role_scopes_api_scope_fk
     foreign key (api_id, scope) references api_scopes (api_id, name) on delete cascade`,
  );
  await knex.raw('create index role_scopes_api_scope_idx on role_scopes (api_id, scope)');

  // admin:grant-admin for the roles holding every other admin scope (see above). The admin API
  // row exists once a server has started; its definition is kept in place at every start.
  await knex.raw(
    `insert into api_scopes (api_id, name, description, required_level)
     select id, 'admin:grant-admin', 'Hand out admin API scopes you hold (to clients, registration tokens and roles)', 2
     from apis where id = ?
     on conflict (api_id, name) do nothing`,
    [ADMIN_API_ID],
  );
  await knex.raw(
    `insert into role_scopes (role_id, api_id, scope)
     select rs.role_id, rs.api_id, 'admin:grant-admin'
     from role_scopes rs
     where rs.api_id = ? and rs.scope in (${MANAGEMENT_SCOPES.map(() => '?').join(', ')})
     group by rs.role_id, rs.api_id
     having count(distinct rs.scope) = ?
     on conflict do nothing`,
    [ADMIN_API_ID, ...MANAGEMENT_SCOPES, MANAGEMENT_SCOPES.length],
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists role_scopes_api_scope_idx');
  await knex.raw('alter table role_scopes drop constraint role_scopes_api_scope_fk');
  await knex.raw('alter table role_scopes drop constraint role_scopes_api_fk');
  await knex.raw('alter table role_scopes drop constraint role_scopes_pkey');
  // Back to bare names: one row per (role, scope name), whichever APIs it named.
  await knex.raw(
    `delete from role_scopes a using role_scopes b
     where a.role_id = b.role_id and a.scope = b.scope and a.api_id > b.api_id`,
  );
  await knex.schema.alterTable('role_scopes', (t) => {
    t.dropColumn('api_id');
  });
  await knex.raw('alter table role_scopes add primary key (role_id, scope)');
}
