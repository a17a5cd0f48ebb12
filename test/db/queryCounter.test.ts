// The query counter sees every round trip over the pool: knex's queries, transactions (begin
// and commit are statements too) and the named prepared statements that bypass knex.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { statement, statementRunner } from '../../src/db/prepared.ts';
import { statementsIn } from '../../src/db/queryCounter.ts';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from '../support/db.ts';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(() => db?.drop());

test('statementsIn counts a parameterised query as one and splits simple-protocol texts', () => {
  assert.equal(statementsIn('select $1; select 2', true), 1);
  assert.equal(statementsIn('begin; select 1; commit;', false), 3);
  assert.equal(statementsIn('select 1', false), 1);
});

test('knex queries, a transaction and a prepared statement are each counted', {
  skip:
    testDatabaseKind() === 'embedded' && 'the in-process embedded database has no pool to count',
}, async () => {
  const { knex, counter } = db;
  const before = { ...counter };
  await knex.raw('select 1');
  await knex.transaction(async (trx) => {
    await trx.raw('select 2');
  });
  const run = statementRunner(knex, { prepared: true });
  await run(statement('query_counter_probe', 'select ?::int as n'), [3]);
  assert.equal(counter.roundTrips - before.roundTrips, 5);
  assert.equal(counter.statements - before.statements, 5);
});
