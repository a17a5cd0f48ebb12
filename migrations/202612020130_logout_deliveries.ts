// The outbox of back-channel logout: one row per relying party to tell that a person's session
// ended, written when the session ends and deleted once delivered or given up.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('logout_deliveries', (t) => {
    t.bigIncrements('id').primary();
    t.text('client_id').notNullable();
    /** The account whose session ended (the logout token's sub). */
    t.text('account_id').notNullable();
    /** The session id the client knows (the ID token's sid); null when unknown. */
    t.text('sid').nullable();
    /** What ended the session: logout, sessions_revoked, password_set, disabled, everywhere. */
    t.text('reason').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
  });
  // The workers' one lookup: the rows due now, oldest first.
  await knex.raw(
    'create index logout_deliveries_due_idx on logout_deliveries (next_attempt_at, id)',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('logout_deliveries');
}
