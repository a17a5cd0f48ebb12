// The issuer this database serves, in a one-row table (src/issuer/ owns it). A database that
// already served an issuer takes it from the admin API's identifier ({ISSUER}/admin/v1), so an
// upgraded server started with another ISSUER refuses instead of silently moving clients.
import type { Knex } from 'knex';

const ADMIN_API_ID = '00000000-0000-4000-8000-00000000ad01';
const ADMIN_SUFFIX = '/admin/v1';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('issuer', (t) => {
    // Always true: the primary key allows exactly one row.
    t.boolean('singleton').primary().defaultTo(true);
    t.text('issuer').notNullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.check('singleton', [], 'issuer_single_row');
  });
  const admin = (await knex('apis').where({ id: ADMIN_API_ID }).first('identifier')) as
    | { identifier: string }
    | undefined;
  if (admin?.identifier.endsWith(ADMIN_SUFFIX)) {
    await knex('issuer').insert({
      singleton: true,
      issuer: admin.identifier.slice(0, -ADMIN_SUFFIX.length),
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('issuer');
}
