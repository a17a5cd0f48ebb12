// The signing-key ring: private keys sealed under ENCRYPTION_KEYS; activation and retirement
// times drive rotation, so every instance derives the same active key from the same rows.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('signing_keys', (t) => {
    t.text('kid').primary();
    t.text('alg').notNullable();
    t.jsonb('public_jwk').notNullable();
    t.text('private_jwk_sealed').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('activates_at', { useTz: true }).notNullable();
    t.timestamp('retires_at', { useTz: true });
  });
  await knex.raw('create index signing_keys_activates_idx on signing_keys (activates_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('signing_keys');
}
