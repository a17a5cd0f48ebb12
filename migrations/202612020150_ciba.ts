// Backchannel authentication (CIBA): the approvals waiting on a person's account page, and the
// outbox of notification mails a background job sends (SMTP_URL).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('ciba_approvals', (t) => {
    t.text('id').primary();
    t.text('client_id').notNullable();
    t.text('client_name').notNullable();
    t.text('account_id').notNullable();
    // The auth_req_id is a bearer secret: sealed (AES-GCM), opened only to complete the request.
    t.text('auth_req_sealed').notNullable();
    t.text('binding_message').nullable();
    t.text('scope').notNullable();
    t.integer('required_level').notNullable();
    t.text('status').notNullable();
    t.integer('failures').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('decided_at', { useTz: true }).nullable();
  });
  await knex.raw(
    `alter table ciba_approvals add constraint ciba_approvals_status_check
      check (status in ('pending', 'approved', 'denied'))`,
  );
  // The account page lists a person's pending approvals; the sweep deletes old rows by expiry.
  await knex.raw(
    `create index ciba_approvals_account_idx on ciba_approvals (account_id, expires_at)
      where status = 'pending'`,
  );
  await knex.raw('create index ciba_approvals_expiry_idx on ciba_approvals (expires_at)');

  await knex.schema.createTable('mail_outbox', (t) => {
    t.bigIncrements('id').primary();
    t.text('recipient').notNullable();
    t.text('subject').notNullable();
    t.text('body').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('next_attempt_at', { useTz: true }).notNullable();
    t.timestamp('sent_at', { useTz: true }).nullable();
    t.text('last_error').nullable();
  });
  // The sender job takes the due unsent mails in order; the sweep deletes sent or abandoned ones.
  await knex.raw(
    'create index mail_outbox_due_idx on mail_outbox (next_attempt_at, id) where sent_at is null',
  );
  await knex.raw('create index mail_outbox_created_idx on mail_outbox (created_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('mail_outbox');
  await knex.schema.dropTable('ciba_approvals');
}
