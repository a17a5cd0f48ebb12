// Consents of rich authorization requests (RFC 9396): the details a person saw and granted, and
// their lifecycle; plus the detail types each API of the catalogue accepts and the scope that
// lets its resource server read and consume their consents.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('apis', (t) => {
    t.specificType('detail_types', 'text[]').notNullable().defaultTo('{}');
    t.text('consent_scope').nullable();
  });
  // A detail type belongs to at most one API: the catalogue checks it and names the other API;
  // this index finds that API (and the one a request's type belongs to) without a scan.
  await knex.raw('create index apis_detail_types_idx on apis using gin (detail_types)');

  await knex.schema.createTable('consents', (t) => {
    t.text('id').primary();
    t.text('client_id').notNullable();
    t.text('account_id').notNullable();
    t.text('grant_id').nullable().unique({ indexName: 'consents_grant_id_key' });
    t.text('interaction_uid').notNullable();
    t.jsonb('details').notNullable();
    t.specificType('types', 'text[]').notNullable();
    t.text('canonical_hash').notNullable();
    t.text('status').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.timestamp('authorised_at', { useTz: true }).nullable();
    t.timestamp('expires_at', { useTz: true }).nullable();
    t.timestamp('consumed_at', { useTz: true }).nullable();
    t.text('consumed_by').nullable();
    t.timestamp('revoked_at', { useTz: true }).nullable();
    t.text('revoked_by').nullable();
  });
  await knex.raw(
    `alter table consents add constraint consents_status_check check (status in
      ('awaiting_authorisation', 'authorised', 'rejected', 'consumed', 'revoked', 'expired'))`,
  );
  await knex.raw(
    'create index consents_account_idx on consents (account_id, created_at desc, id desc)',
  );
  await knex.raw(
    'create index consents_client_idx on consents (client_id, created_at desc, id desc)',
  );
  // One consent awaiting authorisation per interaction and details: the page shown again reuses it.
  await knex.raw(
    `create unique index consents_open_key on consents (interaction_uid, canonical_hash)
      where status = 'awaiting_authorisation'`,
  );
  await knex.raw('create index consents_status_expiry_idx on consents (status, expires_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('consents');
  await knex.raw('drop index if exists apis_detail_types_idx');
  await knex.schema.alterTable('apis', (t) => {
    t.dropColumn('detail_types');
    t.dropColumn('consent_scope');
  });
}
