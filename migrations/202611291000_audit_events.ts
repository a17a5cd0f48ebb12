// The audit log: append-only, hash-chained security events, and the one-row chain head that
// records the last event appended, so deleting events at the end of the chain is detected too.
import type { Knex } from 'knex';

const GENESIS = '0'.repeat(64);

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_events', (t) => {
    // The chain order: 1, 2, 3… assigned under a lock, never by a sequence (which would leave gaps).
    t.bigInteger('seq').primary();
    // Millisecond precision, as JavaScript reads it back: the hash covers exactly what is stored.
    t.timestamp('occurred_at', { useTz: true, precision: 3 }).notNullable();
    t.text('actor_type').notNullable();
    t.text('actor_id');
    t.text('action').notNullable();
    t.text('target_type');
    t.text('target_id');
    t.text('source_ip');
    t.text('user_agent');
    t.text('outcome').notNullable();
    t.jsonb('details').notNullable().defaultTo(knex.raw(`'{}'::jsonb`));
    t.text('prev_hash').notNullable();
    t.text('hash').notNullable();
    t.check(`actor_type in ('user', 'client', 'admin', 'system')`, [], 'audit_events_actor_type');
    t.check(`outcome in ('success', 'failure')`, [], 'audit_events_outcome');
    t.check('(target_type is null) = (target_id is null)', [], 'audit_events_target');
    t.check(`jsonb_typeof(details) = 'object'`, [], 'audit_events_details');
  });
  // Each query path filters on these and pages by seq, so seq ends each index: a filtered page
  // is then one ordered index range instead of a sort of every matching event.
  await knex.raw('create index audit_events_occurred_at on audit_events (occurred_at)');
  await knex.raw('create index audit_events_actor on audit_events (actor_type, actor_id, seq)');
  await knex.raw('create index audit_events_action on audit_events (action, seq)');
  await knex.raw('create index audit_events_target on audit_events (target_type, target_id, seq)');

  await knex.schema.createTable('audit_chain_head', (t) => {
    t.integer('id').primary();
    t.bigInteger('seq').notNullable();
    t.text('hash').notNullable();
    t.check('id = 1', [], 'audit_chain_head_one_row');
  });
  // Created with the table, so a missing head always means tampering, never "not started yet".
  await knex('audit_chain_head').insert({ id: 1, seq: 0, hash: GENESIS });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_chain_head');
  await knex.schema.dropTable('audit_events');
}
