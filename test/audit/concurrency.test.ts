// Several instances appending at once: two connection pools on one database (on the embedded
// database, two clients of its socket, as a server and the CLI would be) still form one chain.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AuditLog, createAuditLog } from '../../src/audit/log.ts';
import { systemClock } from '../../src/clock.ts';
import { connectDatabase, type Database } from '../../src/db/connect.ts';
import { migrateLatest } from '../../src/db/migrate.ts';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from '../support/db.ts';
import { TEST_KINDS } from './helpers.ts';

const PER_INSTANCE = 50;

describe('concurrent appends from several instances', () => {
  let testDb: TestDatabase | undefined;
  const pools: Database[] = [];

  before(async () => {
    if (testDatabaseKind() === 'postgres') {
      testDb = await createTestDatabase('postgres');
      for (let i = 0; i < 2; i++)
        pools.push(await connectDatabase({ url: testDb.url, poolMax: 10 }));
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'pc-audit-'));
      pools.push(await connectDatabase({ embeddedDir: dir, hostEmbedded: true, poolMax: 10 }));
      pools.push(await connectDatabase({ embeddedDir: dir, poolMax: 10 }));
      await migrateLatest(pools[0]!.knex);
    }
  });
  after(async () => {
    // The host (first) closes last: it serves the other's connections on the embedded database.
    for (const pool of [...pools].reverse()) await pool.close();
    await testDb?.drop();
  });

  test(`2 × ${PER_INSTANCE} parallel records form one valid chain`, async (t) => {
    const logs: AuditLog[] = pools.map(({ knex }) =>
      createAuditLog({ knex, clock: systemClock, kinds: TEST_KINDS }),
    );
    const started = performance.now();
    await Promise.all(
      logs.flatMap((audit, instance) =>
        Array.from({ length: PER_INSTANCE }, (_, n) =>
          audit.record({
            actor: { type: 'client', id: `instance-${instance}` },
            action: 'token.issued',
            outcome: 'success',
            details: { n },
          }),
        ),
      ),
    );
    const ms = performance.now() - started;
    t.diagnostic(
      `${testDatabaseKind()}: ${2 * PER_INSTANCE} appends in ${ms.toFixed(0)} ms (${((2000 * PER_INSTANCE) / ms).toFixed(0)}/s)`,
    );

    assert.deepEqual(await logs[1]!.verify(), { ok: true, count: 2 * PER_INSTANCE });
    const { knex } = pools[0]!;
    const rows = await knex('audit_events').select('seq', 'actor_id', 'details').orderBy('seq');
    assert.deepEqual(
      rows.map((r) => r.seq),
      Array.from({ length: 2 * PER_INSTANCE }, (_, i) => i + 1),
    );
    // Each instance appends its events in the order they were recorded.
    for (const instance of [0, 1]) {
      const mine = rows.filter((r) => r.actor_id === `instance-${instance}`);
      assert.deepEqual(
        mine.map((r) => r.details.n),
        [...Array(PER_INSTANCE).keys()],
      );
    }
    assert.deepEqual(await knex('audit_chain_head').first('seq'), { seq: 2 * PER_INSTANCE });
  });

  test('verify sees a consistent snapshot while appends go on', async () => {
    const [a, b] = pools.map(({ knex }) =>
      createAuditLog({ knex, clock: systemClock, batchSize: 10, kinds: TEST_KINDS }),
    );
    const appending = Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        a!.record({
          actor: { type: 'system' },
          action: 'grant.revoked',
          outcome: 'success',
          details: { n },
        }),
      ),
    );
    const results = await Promise.all([b!.verify(), b!.verify(), b!.verify()]);
    await appending;
    for (const result of results) assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(await b!.verify(), { ok: true, count: 2 * PER_INSTANCE + 40 });
  });
});
