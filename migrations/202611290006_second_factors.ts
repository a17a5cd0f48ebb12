// Second factors: TOTP authenticators (seed sealed), WebAuthn credentials, recovery codes
// (hashed), single-use WebAuthn challenges (hashed), the progress of a multi-step login, and
// the assurance level each API scope requires.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('totp_authenticators', (t) => {
    t.uuid('id').primary();
    t.uuid('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('secret_sealed').notNullable();
    // Time step of the last code accepted: a code for it or an earlier step is refused.
    t.bigInteger('last_used_step');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('confirmed_at', { useTz: true });
  });
  await knex.raw('create index totp_authenticators_user_idx on totp_authenticators (user_id)');
  // One confirmed authenticator app per person.
  await knex.raw(
    'create unique index totp_authenticators_confirmed_idx on totp_authenticators (user_id) where confirmed_at is not null',
  );

  await knex.schema.createTable('webauthn_credentials', (t) => {
    t.uuid('id').primary();
    t.uuid('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('credential_id').notNullable().unique();
    t.text('public_key').notNullable();
    t.bigInteger('counter').notNullable().defaultTo(0);
    t.specificType('transports', 'text[]').notNullable().defaultTo('{}');
    t.text('device_type').notNullable();
    t.boolean('backed_up').notNullable().defaultTo(false);
    t.text('aaguid');
    t.text('name').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('last_used_at', { useTz: true });
  });
  await knex.raw('create index webauthn_credentials_user_idx on webauthn_credentials (user_id)');

  await knex.schema.createTable('recovery_codes', (t) => {
    t.uuid('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.text('code_hash').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
    t.primary(['user_id', 'code_hash']);
  });

  await knex.schema.createTable('webauthn_challenges', (t) => {
    t.text('challenge_hash').primary();
    t.text('purpose').notNullable();
    // What the challenge belongs to: an interaction or a signed-in session (hashed).
    t.text('binding').notNullable();
    t.uuid('user_id');
    t.timestamp('expires_at', { useTz: true }).notNullable();
  });
  await knex.raw('create index webauthn_challenges_expiry_idx on webauthn_challenges (expires_at)');

  // A login between its first and last factor (the provider's interaction keeps no custom state).
  await knex.schema.createTable('login_progress', (t) => {
    t.text('interaction_hash').primary();
    t.uuid('user_id').notNullable().references('id').inTable('users').onDelete('CASCADE');
    t.specificType('amr', 'text[]').notNullable();
    t.integer('level').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
  });
  await knex.raw('create index login_progress_expiry_idx on login_progress (expires_at)');

  await knex.schema.alterTable('api_scopes', (t) => {
    t.integer('required_level').notNullable().defaultTo(1);
  });
  await knex.raw(
    'alter table api_scopes add constraint api_scopes_level_check check (required_level between 1 and 3)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('api_scopes', (t) => {
    t.dropColumn('required_level');
  });
  for (const table of [
    'login_progress',
    'webauthn_challenges',
    'recovery_codes',
    'webauthn_credentials',
    'totp_authenticators',
  ]) {
    await knex.schema.dropTable(table);
  }
}
