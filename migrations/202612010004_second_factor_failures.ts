// Second-factor failures counted apart from password failures, with a lock of their own: a right
// password clears only the password count, and only a sign-in completed with a second factor
// clears this one. A login in progress also keeps the points its successful steps took from its
// source address's failure limit, given back only when the sign-in completes.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('account_lockouts', (t) => {
    t.integer('second_factor_failures').notNullable().defaultTo(0);
    t.timestamp('second_factor_locked_until', { useTz: true });
  });
  await knex.schema.alterTable('login_progress', (t) => {
    t.integer('address_points').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('login_progress', (t) => {
    t.dropColumn('address_points');
  });
  await knex.schema.alterTable('account_lockouts', (t) => {
    t.dropColumn('second_factor_locked_until');
    t.dropColumn('second_factor_failures');
  });
}
