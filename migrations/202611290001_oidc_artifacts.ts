// Everything oidc-provider persists (sessions, grants, codes, tokens, ...), one row per artefact.
// Bearer artefacts are keyed by the SHA-256 of their id, so the table holds no usable token.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('oidc_artifacts', (t) => {
    t.text('model').notNullable();
    t.text('id').notNullable();
    t.jsonb('payload').notNullable();
    t.text('grant_id');
    t.text('session_uid');
    t.text('user_code');
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('consumed_at', { useTz: true });
    t.primary(['model', 'id']);
  });
  await knex.raw(
    'create index oidc_artifacts_grant_idx on oidc_artifacts (grant_id, model) where grant_id is not null',
  );
  await knex.raw(
    'create index oidc_artifacts_session_uid_idx on oidc_artifacts (session_uid) where session_uid is not null',
  );
  await knex.raw(
    'create index oidc_artifacts_user_code_idx on oidc_artifacts (user_code) where user_code is not null',
  );
  await knex.raw(
    'create index oidc_artifacts_expiry_idx on oidc_artifacts (expires_at) where expires_at is not null',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('oidc_artifacts');
}
