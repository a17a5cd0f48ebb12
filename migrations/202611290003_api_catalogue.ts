// The API catalogue: each resource server (its identifier is the token audience) and its scopes.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('apis', (t) => {
    t.uuid('id').primary();
    t.text('identifier').notNullable().unique();
    t.text('name').notNullable();
    t.text('token_format').notNullable().defaultTo('jwt');
    t.integer('access_token_ttl').notNullable().defaultTo(600);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });
  await knex.raw(
    "alter table apis add constraint apis_token_format_check check (token_format in ('jwt', 'opaque'))",
  );
  await knex.schema.createTable('api_scopes', (t) => {
    t.uuid('api_id').notNullable().references('id').inTable('apis').onDelete('CASCADE');
    t.text('name').notNullable();
    t.text('description').notNullable();
    t.primary(['api_id', 'name']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('api_scopes');
  await knex.schema.dropTable('apis');
}
