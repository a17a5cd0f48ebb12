// `portcullis audit verify|export|list` as an operator runs them: exit codes, one-line errors,
// tables, JSON and JSON Lines. Events are recorded, and tampered with, straight in the database.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Knex } from 'knex';
import { createAuditLog } from '../../src/audit/log.ts';
import { manualClock } from '../../src/clock.ts';
import { connectDatabase } from '../../src/db/connect.ts';
import { migrateLatest } from '../../src/db/migrate.ts';
import { recordEvents, TEST_KINDS } from '../audit/helpers.ts';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

const T0 = Date.parse('2026-11-01T09:00:00.000Z');

describe('portcullis audit', () => {
  let db: TestDatabase | undefined;
  let dataDir = '';
  let env: Record<string, string>;

  /** The database the CLI uses, opened here between commands (the embedded one allows one user). */
  async function withDatabase(fn: (knex: Knex) => Promise<void>): Promise<void> {
    if (db) return fn(db.knex);
    const embedded = await connectDatabase({ embeddedDir: dataDir });
    try {
      await migrateLatest(embedded.knex);
      await fn(embedded.knex);
    } finally {
      await embedded.close();
    }
  }

  const seqs = (stdout: string) =>
    (JSON.parse(stdout).events as { seq: number }[]).map((e) => e.seq);

  before(async () => {
    ({ env, db } = await cliEnv());
    dataDir = env.DATA_DIR ?? '';
  });
  after(async () => {
    await db?.drop();
  });

  test('--help describes the audit commands', async () => {
    const top = await runCli(['audit', '--help'], env);
    assert.equal(top.code, 0);
    for (const cmd of ['verify', 'export', 'list'])
      assert.match(top.stdout, new RegExp(`\\b${cmd}\\b`));
    const list = await runCli(['audit', 'list', '--help'], env);
    for (const option of [
      '--since',
      '--until',
      '--actor',
      '--action',
      '--target',
      '--limit',
      '--json',
    ])
      assert.match(list.stdout, new RegExp(option));
  });

  test('verify: an intact chain exits 0', async () => {
    const empty = await runCli(['audit', 'verify'], env);
    assert.deepEqual(empty, { code: 0, stdout: 'audit chain intact: 0 events\n', stderr: '' });

    await withDatabase(async (knex) => {
      const clock = manualClock(T0);
      await recordEvents(createAuditLog({ knex, clock, kinds: TEST_KINDS }), 6, () =>
        clock.advance(60_000),
      );
    });
    const intact = await runCli(['audit', 'verify'], env);
    assert.deepEqual(intact, { code: 0, stdout: 'audit chain intact: 6 events\n', stderr: '' });
    const json = await runCli(['audit', 'verify', '--json'], env);
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout), { ok: true, count: 6 });
  });

  test('list: a table for people, JSON pages for machines', async () => {
    const table = await runCli(['audit', 'list'], env);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^SEQ\s+TIME\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME\s+IP$/);
    assert.equal(lines.length, 7);
    assert.match(
      lines[5]!,
      /^5\s+2026-11-01T09:04:00\.000Z\s+user:u5\s+login\.success\s+client:c5\s+success\s+192\.0\.2\.5$/,
    );

    const admins = await runCli(['audit', 'list', '--actor', 'admin', '--json'], env);
    assert.deepEqual(seqs(admins.stdout), [3, 6]);
    const one = await runCli(
      ['audit', 'list', '--actor', 'user:u2', '--action', 'login.failure', '--json'],
      env,
    );
    assert.deepEqual(seqs(one.stdout), [2]);
    const target = await runCli(['audit', 'list', '--target', 'client:c5', '--json'], env);
    assert.deepEqual(seqs(target.stdout), [5]);

    const firstPage = await runCli(['audit', 'list', '--limit', '2'], env);
    assert.match(firstPage.stdout, /\nmore events: add --after 2\n$/);
    const page = JSON.parse(
      (await runCli(['audit', 'list', '--after', '2', '--limit', '2', '--json'], env)).stdout,
    );
    assert.deepEqual(
      page.events.map((e: { seq: number }) => e.seq),
      [3, 4],
    );
    assert.equal(page.next, 4);
    assert.equal(page.events[0].occurredAt, '2026-11-01T09:02:00.000Z');
  });

  test('export: JSON Lines for a time range', async () => {
    const out = await runCli(
      [
        'audit',
        'export',
        '--since',
        '2026-11-01T09:02:00Z',
        '--until',
        '2026-11-01T10:05:00+01:00',
      ],
      env,
    );
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stderr, '');
    const lines = out.stdout.split('\n');
    assert.equal(lines.pop(), '');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).seq),
      [3, 4, 5],
    );
    const all = await runCli(['audit', 'export', '--since', '2026-11-01'], env);
    assert.equal(all.stdout.trimEnd().split('\n').length, 6);
  });

  test('bad input: one line, non-zero exit', async () => {
    const format =
      'is not an ISO 8601 date, or date and time with a zone (e.g. 2026-11-29 or 2026-11-29T14:00:00Z)';
    assertOneLineError(
      await runCli(['audit', 'export', '--since', '2026-02-30'], env),
      `--since "2026-02-30" ${format}`,
    );
    assertOneLineError(
      await runCli(['audit', 'export', '--since', 'yesterday'], env),
      `--since "yesterday" ${format}`,
    );
    assertOneLineError(
      await runCli(['audit', 'list', '--until', '2026-11-01T10:00'], env),
      `--until "2026-11-01T10:00" ${format}`,
    );
    assertOneLineError(
      await runCli(['audit', 'list', '--since', '2026-11-02', '--until', '2026-11-01'], env),
      '--since must be before --until',
    );
    assertOneLineError(
      await runCli(['audit', 'list', '--limit', '0'], env),
      '--limit must be a whole number from 1 to 500',
    );
    assertOneLineError(
      await runCli(['audit', 'list', '--actor', 'robot:r2'], env),
      '--actor type must be one of user, client, admin, system',
    );
    assertOneLineError(
      await runCli(['audit', 'list', '--target', 'client:'], env),
      '--target must look like TYPE or TYPE:ID',
    );
    const missing = await runCli(['audit', 'export'], env);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /required option '--since <time>' not specified/);
  });

  test('verify: a tampered chain exits 1 naming the event, in one line', async () => {
    await withDatabase(async (knex) => {
      await knex('audit_events').where({ seq: 3 }).update({ outcome: 'failure' });
    });
    const broken = await runCli(['audit', 'verify'], env);
    assertOneLineError(broken, 'audit chain broken at event #3: its content was altered');
    assert.equal(broken.code, 1);
    assert.equal(broken.stdout, '');

    const json = await runCli(['audit', 'verify', '--json'], env);
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout), {
      ok: false,
      seq: 3,
      problem: 'altered',
      message: 'audit chain broken at event #3: its content was altered',
    });
    assert.equal(
      json.stderr,
      'portcullis: audit chain broken at event #3: its content was altered\n',
    );
  });
});
