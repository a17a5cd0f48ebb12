// An API marked public: its scopes are advertised in discovery (scopes_supported), for relying
// parties that build their requests from it. Off for every API that exists.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('apis', (t) => {
    t.boolean('public').notNullable().defaultTo(false);
  });
  // Discovery reads the public APIs' scopes: few rows, found without a scan of the catalogue.
  await knex.raw('create index apis_public_idx on apis (id) where public');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists apis_public_idx');
  await knex.schema.alterTable('apis', (t) => {
    t.dropColumn('public');
  });
}
