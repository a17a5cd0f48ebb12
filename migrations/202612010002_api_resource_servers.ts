// Each API's resource servers: the clients allowed to introspect its tokens (RFC 7662 section 4).
// Both sides cascade: deleting the API or the client removes the right, so a client id that is
// ever registered again (system clients have fixed ids) never inherits a right it was not given.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_resource_servers', (t) => {
    t.uuid('api_id')
      .notNullable()
      .references('id')
      .inTable('apis')
      .onDelete('CASCADE')
      .withKeyName('api_resource_servers_api_fk');
    t.text('client_id')
      .notNullable()
      .references('client_id')
      .inTable('clients')
      .onDelete('CASCADE')
      .withKeyName('api_resource_servers_client_fk');
    t.primary(['api_id', 'client_id']);
  });
  // The cascade from a deleted client finds its rows without a scan.
  await knex.raw(
    'create index api_resource_servers_client_idx on api_resource_servers (client_id)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('api_resource_servers');
}
