// The audit log as its callers use it: recording events into a valid chain, keeping secrets out,
// refusing bad events without writing anything, and reading events back by filter and page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GENESIS_HASH, hashEvent } from '../../src/audit/chain.ts';
import { AUDIT_KINDS } from '../../src/audit/kinds.ts';
import { type AuditEventInput, type AuditLog, createAuditLog } from '../../src/audit/log.ts';
import { manualClock } from '../../src/clock.ts';
import { DomainError } from '../../src/errors.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { recordEvents, resetChain, row, TEST_KINDS, tables } from './helpers.ts';

const T0 = Date.parse('2026-11-01T09:00:00.000Z');

describe('audit log', () => {
  let db: TestDatabase;
  let audit: AuditLog;
  const clock = manualClock(T0);

  before(async () => {
    db = await createTestDatabase();
    audit = createAuditLog({ knex: db.knex, clock, batchSize: 4, kinds: TEST_KINDS });
  });
  after(async () => {
    await db.drop();
  });

  test('records events into a chain that verifies', async () => {
    await resetChain(db.knex);
    await audit.record({
      actor: { type: 'admin', id: 'alice' },
      action: 'client.created',
      target: { type: 'client', id: 'c1' },
      outcome: 'success',
      sourceIp: '203.0.113.7',
      userAgent: 'portcullis-cli',
      details: { name: 'Payments job', grants: ['client_credentials'] },
    });
    clock.advance(1500);
    await audit.record({ actor: { type: 'system' }, action: 'key.rotated', outcome: 'success' });

    const { events, head } = await tables(db.knex);
    assert.equal(events.length, 2);
    const [first, second] = events;
    assert.deepEqual(
      { ...first, hash: undefined },
      {
        seq: 1,
        occurred_at: new Date(T0),
        actor_type: 'admin',
        actor_id: 'alice',
        action: 'client.created',
        target_type: 'client',
        target_id: 'c1',
        source_ip: '203.0.113.7',
        user_agent: 'portcullis-cli',
        outcome: 'success',
        details: { name: 'Payments job', grants: ['client_credentials'] },
        prev_hash: GENESIS_HASH,
        hash: undefined,
      },
    );
    assert.equal(first.hash, hashEvent(first));
    assert.match(first.hash, /^[0-9a-f]{64}$/);
    assert.equal(second.seq, 2);
    assert.equal(second.prev_hash, first.hash);
    assert.deepEqual(second.occurred_at, new Date(T0 + 1500));
    assert.equal(second.actor_id, null);
    assert.deepEqual(second.details, {});
    assert.deepEqual(head, [{ id: 1, seq: 2, hash: second.hash }]);
    assert.deepEqual(await audit.verify(), { ok: true, count: 2 });
  });

  test('only the details its kind allows are stored; the others are named, never kept', async () => {
    await resetChain(db.knex);
    // The real kinds of kinds.ts: a sign-in failure keeps its reason, method and client only.
    const real = createAuditLog({ knex: db.knex, clock });
    const event: AuditEventInput = {
      actor: { type: 'user', id: 'bob' },
      action: 'login.failure',
      outcome: 'failure',
      details: {
        reason: 'wrong_password',
        method: 'password',
        client: 'c1',
        password: 'hunter2',
        headers: { Authorization: 'Bearer abc.def' },
        attempt: { otp: '123456' },
        note: 'innocent-looking key, secret value s3cr3t',
      },
    };
    assert.deepEqual(real.prepare(event).dropped, ['password', 'headers', 'attempt', 'note']);
    await real.record(event);
    const stored = await row(db.knex, 1);
    assert.deepEqual(stored.details, {
      reason: 'wrong_password',
      method: 'password',
      client: 'c1',
    });
    const raw = JSON.stringify(await tables(db.knex));
    for (const secret of ['hunter2', 'abc.def', '123456', 's3cr3t'])
      assert.ok(!raw.includes(secret), `${secret} must not be stored`);
    assert.deepEqual(await audit.verify(), { ok: true, count: 1 });
  });

  test('every kind the audit log records lists its details, and is a dotted lower-case name', () => {
    for (const [action, details] of Object.entries(AUDIT_KINDS)) {
      assert.match(action, /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, action);
      assert.ok(Array.isArray(details), action);
    }
  });

  test('text PostgreSQL would refuse or change is stored as U+FFFD and still verifies', async () => {
    await resetChain(db.knex);
    await audit.record({
      actor: { type: 'user', id: 'eve\u0000' },
      action: 'login.failure',
      outcome: 'failure',
      userAgent: `bot\uD800/1.0 ${'x'.repeat(600)}`,
      details: { username: 'a\u0000b', 'k\uDC00': 'lone \uDBFF surrogate', emoji: '\u{1F512}' },
    });
    const stored = await row(db.knex, 1);
    assert.equal(stored.actor_id, 'eve\uFFFD');
    assert.equal(stored.user_agent, `bot\uFFFD/1.0 ${'x'.repeat(512 - 9)}`);
    assert.deepEqual(stored.details, {
      username: 'a\uFFFDb',
      'k\uFFFD': 'lone \uFFFD surrogate',
      emoji: '\u{1F512}',
    });
    assert.deepEqual(await audit.verify(), { ok: true, count: 1 });
  });

  test('invalid events are refused with a DomainError and nothing is written', async () => {
    await resetChain(db.knex);
    await recordEvents(audit, 2);
    const before = await tables(db.knex);
    const valid: AuditEventInput = {
      actor: { type: 'user', id: 'u' },
      action: 'login.success',
      outcome: 'success',
    };
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: [Partial<AuditEventInput> & Record<string, unknown>, string, string][] = [
      [
        { actor: { type: 'robot' as 'user' } },
        'actor',
        'actor type must be one of user, client, admin, system',
      ],
      [
        { action: 'Login Failure' as 'login.failure' },
        'action',
        'action must be a dotted lower-case name such as login.failure',
      ],
      [
        { action: 'login' as 'login.failure' },
        'action',
        'action must be a dotted lower-case name such as login.failure',
      ],
      [
        { action: 'login.maybe' as 'login.failure' },
        'action',
        'login.maybe is not a kind of event the audit log records',
      ],
      [{ outcome: 'maybe' as 'success' }, 'outcome', 'outcome must be one of success, failure'],
      [{ target: { type: 'client', id: '' } }, 'target', 'a target needs both a type and an id'],
      [
        { actor: { type: 'user', id: 'x'.repeat(257) } },
        'actor id',
        'actor id must be at most 256 characters',
      ],
      [{ details: [] as never }, 'details', 'audit details must be an object'],
      [
        { details: { big: 1n } },
        'details',
        'audit details must be JSON (no cycles or BigInt values)',
      ],
      [{ details: cyclic }, 'details', 'audit details must be JSON (no cycles or BigInt values)'],
      [
        { details: { blob: 'x'.repeat(17_000) } },
        'details',
        'audit details must be at most 16384 bytes of JSON',
      ],
    ];
    for (const [change, field, message] of cases) {
      await assert.rejects(
        audit.record({ ...valid, ...change }),
        (err: unknown) =>
          err instanceof DomainError &&
          err.code === 'invalid_input' &&
          err.field === field &&
          err.message === message,
        message,
      );
    }
    assert.deepEqual(await tables(db.knex), before);
  });

  describe('query and export', () => {
    // 12 events one minute apart: see recordEvents for who did what.
    before(async () => {
      await resetChain(db.knex);
      clock.set(T0);
      await recordEvents(audit, 12, () => clock.advance(60_000));
    });

    const seqs = (page: { events: { seq: number }[] }) => page.events.map((e) => e.seq);
    const at = (minute: number) => new Date(T0 + minute * 60_000);

    test('events come back as stored, oldest first, with their hashes', async () => {
      const page = await audit.query();
      assert.deepEqual(seqs(page), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      assert.equal(page.next, undefined);
      const first = page.events[0]!;
      const stored = await row(db.knex, 1);
      assert.deepEqual(first, {
        seq: 1,
        occurredAt: new Date(T0),
        actor: { type: 'user', id: 'u1' },
        action: 'login.success',
        target: null,
        outcome: 'success',
        sourceIp: '192.0.2.1',
        userAgent: 'Mozilla/5.0 (test)',
        details: { n: 1, tags: ['a', { b: 1 }] },
        prevHash: GENESIS_HASH,
        hash: stored.hash,
      });
    });

    test('filters: time range, actor, action, target, and together', async () => {
      assert.deepEqual(seqs(await audit.query({ since: at(3), until: at(6) })), [4, 5, 6]);
      assert.deepEqual(seqs(await audit.query({ actorType: 'admin' })), [3, 6, 9, 12]);
      assert.deepEqual(seqs(await audit.query({ actorType: 'admin', actorId: 'u6' })), [6]);
      assert.deepEqual(
        seqs(await audit.query({ action: 'login.failure', since: at(6) })),
        [8, 10, 12],
      );
      assert.deepEqual(seqs(await audit.query({ targetType: 'client' })), [5, 10]);
      assert.deepEqual(seqs(await audit.query({ targetType: 'client', targetId: 'c10' })), [10]);
      assert.deepEqual(seqs(await audit.query({ action: 'client.created' })), []);
    });

    test('keyset pagination on seq', async () => {
      const pages: number[][] = [];
      let after: number | undefined;
      do {
        const page = await audit.query({ action: 'login.success', limit: 2, after });
        pages.push(seqs(page));
        after = page.next;
      } while (after !== undefined);
      assert.deepEqual(pages, [
        [1, 3],
        [5, 7],
        [9, 11],
      ]);
      // A page that ends exactly at the last event has no next.
      assert.equal((await audit.query({ after: 9, limit: 3 })).next, undefined);
      assert.equal((await audit.query({ after: 8, limit: 3 })).next, 11);
    });

    test('bad filters are refused', async () => {
      for (const [filter, message] of [
        [{ limit: 0 }, 'limit must be a whole number from 1 to 500'],
        [{ limit: 501 }, 'limit must be a whole number from 1 to 500'],
        [{ limit: 1.5 }, 'limit must be a whole number from 1 to 500'],
        [{ since: new Date('nope') }, 'since must be a valid date'],
        [{ after: -1 }, 'after must be a whole number (an event seq)'],
        [{ actorType: 'robot' }, 'actor type must be one of user, client, admin, system'],
      ] as const) {
        await assert.rejects(audit.query(filter as never), { name: 'DomainError', message });
      }
    });

    test('export writes one JSON line per event in batches, awaiting the writer', async () => {
      const lines: string[] = [];
      const count = await audit.exportJsonl({ since: at(2) }, async (line) => {
        await new Promise((resolve) => setImmediate(resolve));
        lines.push(line);
      });
      assert.equal(count, 10);
      assert.equal(lines.length, 10);
      const events = lines.map((l) => JSON.parse(l));
      assert.deepEqual(
        events.map((e) => e.seq),
        [3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      );
      assert.ok(lines.every((l) => !l.includes('\n')));
      assert.equal(events[0].occurredAt, at(2).toISOString());
      assert.deepEqual(events[2].target, { type: 'client', id: 'c5' });
      // Each line carries what is needed to recheck the chain outside Portcullis.
      assert.equal(events[1].prevHash, events[0].hash);

      const filtered: string[] = [];
      await audit.exportJsonl({ actorType: 'admin', until: at(9) }, (l) => {
        filtered.push(l);
      });
      assert.deepEqual(
        filtered.map((l) => JSON.parse(l).seq),
        [3, 6, 9],
      );
    });
  });
});
