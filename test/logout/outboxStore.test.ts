// The back-channel logout outbox on a real database: workers claiming at once never share a
// notice (for update skip locked), a claimed notice is leased and comes back if its worker died,
// and notices written in a transaction that rolls back never exist.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createLogoutStore, type LogoutStore } from '../../src/logout/store.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

describe('logout outbox store', () => {
  let db: TestDatabase;
  let store: LogoutStore;
  const t0 = new Date('2026-12-01T10:00:00Z');
  const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
  const notice = (i: number) => ({
    clientId: `client-${i}`,
    accountId: 'account-1',
    sid: `sid-${i}`,
    reason: 'logout',
  });

  before(async () => {
    db = await createTestDatabase();
    store = createLogoutStore(db.knex);
  });
  after(async () => {
    await db?.drop();
  });
  beforeEach(async () => {
    await db.knex('logout_deliveries').delete();
  });

  test('workers claiming at once share no notice', async () => {
    await store.add(
      Array.from({ length: 30 }, (_, i) => notice(i)),
      t0,
    );
    const claims = await Promise.all([1, 2, 3].map(() => store.claimDue(t0, at(60), 20)));
    const ids = claims.flat().map((d) => d.id);
    assert.equal(ids.length, 30, 'every notice claimed once');
    assert.equal(new Set(ids).size, 30, 'no notice claimed twice');
    assert.ok(claims.flat().every((d) => d.attempts === 1));
    // Leased: nobody claims them again before the lease ends.
    assert.deepEqual(await store.claimDue(at(59), at(120), 50), []);
  });

  test('a notice whose worker died comes back when its lease ends (at-least-once)', async () => {
    await store.add([notice(1)], t0);
    const [first] = await store.claimDue(t0, at(60), 10);
    assert.equal(first?.attempts, 1);
    const [again] = await store.claimDue(at(60), at(120), 10);
    assert.equal(again?.id, first!.id);
    assert.equal(again?.attempts, 2);
    // The first worker's late outcome no longer applies to the row (another attempt owns it).
    await store.remove(first!.id, first!.attempts);
    assert.equal((await store.pending()).length, 1);
    await store.remove(again!.id, again!.attempts);
    assert.equal((await store.pending()).length, 0);
  });

  test('notices written in a transaction that rolls back never exist', async () => {
    await assert.rejects(
      db.knex.transaction(async (trx) => {
        await store.add([notice(1)], t0, trx);
        throw new Error('the revocation failed');
      }),
      /the revocation failed/,
    );
    assert.deepEqual(await store.pending(), []);
  });
});
