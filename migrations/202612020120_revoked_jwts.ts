// JWT access tokens revoked one by one (RFC 7009 at the revocation endpoint): a JWT is not stored,
// so its jti is kept here until the token expires, then swept. Introspection looks jtis up by key.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('revoked_jwts', (t) => {
    t.text('jti').primary();
    t.text('client_id').notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.index(['expires_at'], 'revoked_jwts_expires_at_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('revoked_jwts');
}
