// People who sign in (users), the roles that grant them API scopes, and the per-account and
// per-address counters that stop password guessing.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.uuid('id').primary();
    t.text('email').notNullable();
    t.text('name').notNullable().defaultTo('');
    t.text('password_hash');
    t.text('status').notNullable().defaultTo('active');
    t.boolean('email_verified').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.timestamp('password_changed_at', { useTz: true });
    t.timestamp('last_login_at', { useTz: true });
  });
  await knex.raw(
    "alter table users add constraint users_status_check check (status in ('active', 'locked', 'disabled'))",
  );
  // Email is unique regardless of case: lookups use lower(email).
  await knex.raw('create unique index users_email_lower_idx on users (lower(email))');

  await knex.schema.createTable('roles', (t) => {
    t.uuid('id').primary();
    t.text('name').notNullable().unique();
    t.text('description').notNullable().defaultTo('');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });
  await knex.schema.createTable('role_scopes', (t) => {
    t.uuid('role_id').notNullable().references('id').inTable('roles').onDelete('CASCADE');
    t.text('scope').notNullable();
    t.primary(['role_id', 'scope']);
  });
  await knex.schema.createTable('user_roles', (t) => {
    t.uuid('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.uuid('role_id').notNullable().references('id').inTable('roles').onDelete('CASCADE');
    t.timestamp('granted_at', { useTz: true }).notNullable();
    t.primary(['user_id', 'role_id']);
  });
  await knex.raw('create index user_roles_role_idx on user_roles (role_id)');

  // Consecutive failed sign-ins per account and the temporary lock they cause.
  await knex.schema.createTable('account_lockouts', (t) => {
    t.uuid('user_id').primary().references('id').inTable('users').onDelete('CASCADE');
    t.integer('failures').notNullable().defaultTo(0);
    t.timestamp('locked_until', { useTz: true });
    t.timestamp('last_failure_at', { useTz: true });
  });
  // Fixed-window counters (failed sign-ins per source address, ...).
  await knex.schema.createTable('rate_limits', (t) => {
    t.text('key').primary();
    t.integer('points').notNullable();
    t.timestamp('window_ends_at', { useTz: true }).notNullable();
  });
  await knex.raw('create index rate_limits_window_idx on rate_limits (window_ends_at)');

  // Grants, sessions and tokens by account: "my authorizations", "sign me out everywhere".
  await knex.schema.alterTable('oidc_artifacts', (t) => {
    t.text('account_id');
  });
  await knex.raw(
    'create index oidc_artifacts_account_idx on oidc_artifacts (account_id, model) where account_id is not null',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists oidc_artifacts_account_idx');
  await knex.schema.alterTable('oidc_artifacts', (t) => {
    t.dropColumn('account_id');
  });
  for (const table of [
    'rate_limits',
    'account_lockouts',
    'user_roles',
    'role_scopes',
    'roles',
    'users',
  ]) {
    await knex.schema.dropTable(table);
  }
}
