// Tampering with the stored chain, as someone with write access to the database would: each
// kind of change makes verify fail naming exactly the first event at fault and what happened.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { GENESIS_HASH, hashEvent } from '../../src/audit/chain.ts';
import { type AuditLog, createAuditLog } from '../../src/audit/log.ts';
import { systemClock } from '../../src/clock.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { recordEvents, resetChain, row, TEST_KINDS } from './helpers.ts';

// A small batch size puts batch boundaries inside the chain: verify must look across them.
const BATCH = 7;
const COUNT = 60;

describe('audit chain tampering', () => {
  let db: TestDatabase;
  let audit: AuditLog;
  const knex = () => db.knex;

  /** Forged row `seq` with a correct hash over its (chosen) prev_hash: a well-made forgery. */
  async function forged(seq: number, prevHash: string) {
    const template = await row(knex(), 1);
    const fields = {
      ...template,
      seq,
      actor_id: 'mallory',
      action: 'payment.approved',
      details: { forged: true },
      prev_hash: prevHash,
    };
    return { ...fields, hash: hashEvent(fields) };
  }

  /** Moves every event from `from` on by `by` places (via negative seqs, as the key is unique). */
  async function renumber(from: number, by: number) {
    await knex()('audit_events')
      .where('seq', '>=', from)
      .update({ seq: knex().raw('-seq') });
    await knex()('audit_events')
      .where('seq', '<', 0)
      .update({ seq: knex().raw('-seq + ?', [by]) });
  }

  before(async () => {
    db = await createTestDatabase();
    audit = createAuditLog({
      knex: db.knex,
      clock: systemClock,
      batchSize: BATCH,
      kinds: TEST_KINDS,
    });
  });
  after(async () => {
    await db.drop();
  });
  beforeEach(async () => {
    await resetChain(knex());
    await recordEvents(audit, COUNT);
    assert.deepEqual(await audit.verify(), { ok: true, count: COUNT });
  });

  test('an empty chain is intact', async () => {
    await resetChain(knex());
    assert.deepEqual(await audit.verify(), { ok: true, count: 0 });
  });

  for (const [field, value] of [
    ['actor_id', 'someone-else'],
    ['outcome', 'success'],
    ['occurred_at', new Date('2020-01-01T00:00:00Z')],
    ['details', { n: 42, reason: 'fine' }],
    ['source_ip', null],
    ['prev_hash', GENESIS_HASH],
    ['hash', 'f'.repeat(64)],
  ] as const) {
    test(`an update of ${field} names the altered event`, async () => {
      await knex()('audit_events')
        .where({ seq: 42 })
        .update({ [field]: value });
      assert.deepEqual(await audit.verify(), {
        ok: false,
        seq: 42,
        problem: 'altered',
        message: 'audit chain broken at event #42: its content was altered',
      });
    });
  }

  test('an update that also recomputes the hash is caught by the next link', async () => {
    const original = await row(knex(), 42);
    const changed = { ...original, actor_id: 'someone-else' };
    await knex()('audit_events')
      .where({ seq: 42 })
      .update({ actor_id: 'someone-else', hash: hashEvent(changed) });
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: 42,
      problem: 'altered',
      message:
        'audit chain broken at event #42: its content was altered (event #43 no longer follows it)',
    });
  });

  test('rewriting the last event is caught by the chain head', async () => {
    const last = await row(knex(), COUNT);
    const changed = { ...last, outcome: 'success' };
    await knex()('audit_events')
      .where({ seq: COUNT })
      .update({ outcome: 'success', hash: hashEvent(changed) });
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: COUNT,
      problem: 'altered',
      message: `audit chain broken at event #${COUNT}: its content was altered (it no longer matches the chain head)`,
    });
  });

  test('a delete in the middle names the deleted event', async () => {
    await knex()('audit_events').where({ seq: 42 }).delete();
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: 42,
      problem: 'deleted',
      message: 'audit chain broken: event #42 was deleted',
    });
  });

  test('a delete of several events names the range, first event included', async () => {
    await knex()('audit_events').whereBetween('seq', [1, 3]).delete();
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: 1,
      problem: 'deleted',
      message: 'audit chain broken: events #1 to #3 were deleted',
    });
  });

  test('a delete whose gap is closed by renumbering is still a delete', async () => {
    await knex()('audit_events').where({ seq: 42 }).delete();
    await renumber(43, -1);
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: 42,
      problem: 'deleted',
      message: 'audit chain broken: event #42 was deleted (later events were renumbered)',
    });
  });

  test('an insert after the last event names the forged event', async () => {
    const head = await knex()('audit_chain_head').first();
    await knex()('audit_events').insert(await forged(COUNT + 1, head.hash));
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: COUNT + 1,
      problem: 'inserted',
      message: `audit chain broken at event #${COUNT + 1}: it was inserted after the last recorded event #${COUNT}`,
    });
  });

  test('an insert before the first event names the forged event', async () => {
    await knex()('audit_events').insert(await forged(0, GENESIS_HASH));
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: 0,
      problem: 'inserted',
      message: 'audit chain broken at event #0: it was inserted before event #1',
    });
  });

  test('a well-forged insert in the middle (later events renumbered) names the forged event', async () => {
    await renumber(42, 1);
    const before41 = await row(knex(), 41);
    await knex()('audit_events').insert(await forged(42, before41.hash));
    await knex()('audit_chain_head').update({ seq: COUNT + 1 });
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: 42,
      problem: 'inserted',
      message:
        'audit chain broken at event #42: it was inserted before event #43 (later events were renumbered)',
    });
  });

  test('a crude insert in the middle names the forged event', async () => {
    await renumber(42, 1);
    await knex()('audit_events').insert({
      ...(await forged(42, 'a'.repeat(64))),
      hash: 'b'.repeat(64),
    });
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: 42,
      problem: 'inserted',
      message: 'audit chain broken at event #42: it was inserted before event #43',
    });
  });

  test('a delete at the end names the first deleted event', async () => {
    await knex()('audit_events').where('seq', '>', 57).delete();
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: 58,
      problem: 'truncated',
      message: `audit chain broken: events after #57 were deleted (#58 to #${COUNT})`,
    });
  });

  test('a delete of only the last event, or of every event, is a truncation', async () => {
    await knex()('audit_events').where({ seq: COUNT }).delete();
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: COUNT,
      problem: 'truncated',
      message: `audit chain broken: events after #${COUNT - 1} were deleted (#${COUNT})`,
    });
    await knex()('audit_events').delete();
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: 1,
      problem: 'truncated',
      message: `audit chain broken: events after #0 were deleted (#1 to #${COUNT})`,
    });
  });

  test('a deleted chain head is reported, and nothing more is appended', async () => {
    await knex()('audit_chain_head').delete();
    assert.deepEqual(await audit.verify(), {
      ok: false,
      seq: COUNT + 1,
      problem: 'truncated',
      message: `audit chain broken: its head record is missing, so events after #${COUNT} may have been deleted`,
    });
    await assert.rejects(
      audit.record({ actor: { type: 'system' }, action: 'key.rotated', outcome: 'success' }),
      {
        name: 'Unavailable',
        message:
          'the audit log is unavailable: the audit chain head is missing: run "portcullis audit verify"',
      },
    );
    assert.equal(Number((await knex()('audit_events').count({ n: '*' }))[0]!.n), COUNT);
  });

  test('with several changes, the first event at fault is named', async () => {
    await knex()('audit_events').where({ seq: 50 }).delete();
    await knex()('audit_events').where({ seq: 10 }).update({ action: 'login.success' });
    const result = await audit.verify();
    assert.equal(result.ok, false);
    assert.deepEqual(result.ok ? undefined : [result.seq, result.problem], [10, 'altered']);
  });
});
