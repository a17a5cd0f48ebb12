// The embedded database behaves like PostgreSQL where knex relies on it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectDatabase } from '../../src/db/connect.ts';

test('deletes report their row count on the embedded database', async () => {
  const db = await connectDatabase({});
  await db.knex.raw('create table t (id int)');
  await db.knex('t').insert([{ id: 1 }, { id: 2 }, { id: 3 }]);
  assert.equal(await db.knex('t').where('id', '<', 3).delete(), 2);
  assert.equal(await db.knex('t').where('id', 9).delete(), 0);
  assert.equal(await db.knex('t').update({ id: 4 }), 1);
  await db.close();
});
