// Artefacts by client: deleting a client revokes its grants, tokens and codes, found through an
// index rather than a scan of every payload. Rows written before this migration are filled in.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('oidc_artifacts', (t) => {
    t.text('client_id');
  });
  await knex.raw(
    "update oidc_artifacts set client_id = payload->>'clientId' where payload->>'clientId' is not null",
  );
  await knex.raw(
    'create index oidc_artifacts_client_idx on oidc_artifacts (client_id) where client_id is not null',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists oidc_artifacts_client_idx');
  await knex.schema.alterTable('oidc_artifacts', (t) => {
    t.dropColumn('client_id');
  });
}
