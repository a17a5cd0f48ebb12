// Per-client request counts of the rate limits (src/limits/): one row per client and fixed
// window, the sum of what every instance counted, and whether its refusal is already audited.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('client_rate_limits', (t) => {
    t.text('client_id').notNullable();
    t.integer('window_seconds').notNullable();
    // Epoch seconds: windows are aligned to multiples of their length, the same on every instance.
    t.bigInteger('window_start').notNullable();
    t.bigInteger('window_end').notNullable();
    t.bigInteger('requests').notNullable().defaultTo(0);
    t.boolean('reported').notNullable().defaultTo(false);
    t.primary(['client_id', 'window_seconds', 'window_start']);
    t.index(['window_end'], 'client_rate_limits_window_end_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('client_rate_limits');
}
