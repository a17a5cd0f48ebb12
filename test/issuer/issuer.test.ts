// The issuer a database serves (finding 7): recorded on first use, changed only by the audited
// `portcullis issuer set`; read-only commands under another ISSUER warn and write nothing; a
// server under another ISSUER refuses to start (on the embedded development database it follows).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectDatabase } from '../../src/db/connect.ts';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';
import { freePort } from '../support/server.ts';

const FIRST = 'http://localhost:3000';
const OTHER = 'http://localhost:3001';
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'portcullis.js');

const mismatch = (configured: string, stored: string) =>
  `ISSUER is ${configured} but this database serves ${stored}; run \`portcullis issuer set ${configured}\` to move it`;

describe('the issuer a database serves', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;

  /** The CLI's database, opened while no command runs (the embedded one allows one process). */
  async function withDatabase<T>(fn: (knex: TestDatabase['knex']) => Promise<T>): Promise<T> {
    if (db) return fn(db.knex);
    const opened = await connectDatabase({ embeddedDir: env.DATA_DIR });
    try {
      return await fn(opened.knex);
    } finally {
      await opened.close();
    }
  }

  /** Every table's row count and a hash of all its rows: equal means nothing was written. */
  const fingerprint = () =>
    withDatabase(async (knex) => {
      const tables = (await knex('information_schema.tables')
        .where({ table_schema: 'public', table_type: 'BASE TABLE' })
        .orderBy('table_name')
        .pluck('table_name')) as string[];
      const out: Record<string, string> = {};
      for (const table of tables) {
        const { rows } = (await knex.raw(
          `select count(*)::int as n, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as h from "${table}" t`,
        )) as { rows: { n: number; h: string }[] };
        out[table] = `${rows[0]!.n}:${rows[0]!.h}`;
      }
      return out;
    });

  const cli = (args: string[], issuer = FIRST, input?: string) =>
    runCli(args, { ...env, ISSUER: issuer }, input);
  const adminIdentifiers = async (issuer = FIRST) => {
    const result = await cli(['api', 'list', '--json'], issuer);
    assert.equal(result.code, 0, result.stderr);
    return (JSON.parse(result.stdout) as { identifier: string }[])
      .map((a) => a.identifier)
      .filter((i) => i.endsWith('/admin/v1'));
  };
  const issuerEvents = () =>
    withDatabase((knex) =>
      knex('audit_events').where({ action: 'issuer.changed' }).orderBy('seq').select('*'),
    );

  before(async () => {
    ({ env, db } = await cliEnv());
    // The first use records the issuer; an automation client is allowed the admin API.
    const bootstrap = await cli(
      ['admin', 'bootstrap', '--email', 'root@example.com', '--json'],
      FIRST,
      'correct horse battery staple 42',
    );
    assert.equal(bootstrap.code, 0, bootstrap.stderr);
  });
  after(async () => {
    await db?.drop();
  });

  test('the first use records the issuer; `issuer show` prints it', async () => {
    const shown = await cli(['issuer', 'show', '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout), {
      stored: FIRST,
      configured: FIRST,
      matches: true,
    });
    assert.equal(shown.stderr, '');
    assert.deepEqual(await adminIdentifiers(), [`${FIRST}/admin/v1`]);
  });

  test('read-only commands under another ISSUER warn in one line and write nothing', async () => {
    const before = await fingerprint();
    for (const args of [
      ['client', 'list'],
      ['api', 'list'],
      ['keys', 'list'],
      ['audit', 'verify'],
    ]) {
      const result = await cli(args, OTHER);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr, `portcullis: warning: ${mismatch(OTHER, FIRST)}\n`);
    }
    const shown = await cli(['issuer', 'show'], OTHER);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(
      shown.stdout,
      `served: ${FIRST}\nISSUER: ${OTHER} (differs: a server refuses to start; \`portcullis issuer set ${OTHER}\` moves the database)\n`,
    );
    assert.deepEqual(await fingerprint(), before);
    assert.deepEqual(await adminIdentifiers(), [`${FIRST}/admin/v1`]);
  });

  test('`issuer set` refuses what is not an issuer URL, with one line and nothing written', async () => {
    const before = await fingerprint();
    for (const bad of ['ftp://auth.example.com', 'https://auth.example.com/path', 'not a url']) {
      assertOneLineError(
        await cli(['issuer', 'set', bad]),
        'the issuer must be an absolute http(s) origin such as https://auth.example.com (no path, query or fragment)',
      );
    }
    assert.deepEqual(await fingerprint(), before);
  });

  test('`issuer set` moves the admin API and its clients at once, audited', async () => {
    const clientsBefore = JSON.parse((await cli(['client', 'list', '--json'])).stdout) as {
      clientId: string;
      apiAccess: Record<string, string[]>;
    }[];
    const allowed = clientsBefore.filter((c) => c.apiAccess[`${FIRST}/admin/v1`]);
    assert.equal(allowed.length, 1, 'the bootstrap client is allowed the admin API');

    const set = await cli(['issuer', 'set', OTHER, '--json'], FIRST);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stderr, '');
    assert.deepEqual(JSON.parse(set.stdout), {
      from: FIRST,
      to: OTHER,
      clientsMoved: 1,
      changed: true,
    });
    assert.deepEqual(await adminIdentifiers(OTHER), [`${OTHER}/admin/v1`]);
    const clientsAfter = JSON.parse((await cli(['client', 'list', '--json'], OTHER)).stdout) as {
      clientId: string;
      apiAccess: Record<string, string[]>;
      redirectUris: string[];
    }[];
    const moved = clientsAfter.find((c) => c.clientId === allowed[0]!.clientId)!;
    assert.deepEqual(moved.apiAccess, {
      [`${OTHER}/admin/v1`]: allowed[0]!.apiAccess[`${FIRST}/admin/v1`],
    });
    const account = clientsAfter.find((c) => c.clientId === 'portcullis-account');
    assert.deepEqual(account?.redirectUris, [`${OTHER}/account/callback`]);

    const events = await issuerEvents();
    assert.equal(events.length, 1);
    assert.equal(events[0].outcome, 'success');
    assert.equal(events[0].target_id, OTHER);
    assert.match(events[0].actor_id, /^cli:/);
    assert.deepEqual(events[0].details, { from: FIRST, to: OTHER, clientsMoved: 1, via: 'cli' });
    const verify = await cli(['audit', 'verify'], OTHER);
    assert.equal(verify.code, 0, verify.stderr);

    // Setting the issuer it already serves changes nothing and records nothing.
    const again = await cli(['issuer', 'set', OTHER], OTHER);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `this database already serves ${OTHER}: nothing changed\n`);
    assert.equal((await issuerEvents()).length, 1);
  });

  test('a server under another ISSUER refuses to start on PostgreSQL, with one line', {
    skip: !process.env.TEST_DATABASE_URL && 'the embedded database follows ISSUER in development',
  }, async () => {
    const before = await fingerprint();
    for (const nodeEnv of ['development', 'test']) {
      const port = await freePort();
      const result = await runCli(['serve'], {
        ...env,
        NODE_ENV: nodeEnv,
        PORT: String(port),
        ISSUER: `http://localhost:${port}`,
      });
      assertOneLineError(result, mismatch(`http://localhost:${port}`, OTHER));
    }
    assert.deepEqual(await fingerprint(), before);
  });

  test('on the embedded development database a server start moves the issuer, audited', {
    skip: Boolean(process.env.TEST_DATABASE_URL) && 'embedded database only',
  }, async () => {
    const port = await freePort();
    const issuer = `http://localhost:${port}`;
    const lines = await serveUntilListening({
      ...env,
      NODE_ENV: 'development',
      PORT: String(port),
      ISSUER: issuer,
      LOG_LEVEL: 'info',
    });
    const followed = lines.find((l) => /the embedded database now serves this ISSUER/.test(l));
    assert.ok(followed, lines.join('\n'));
    assert.deepEqual(
      { from: JSON.parse(followed).from, to: JSON.parse(followed).to },
      { from: OTHER, to: issuer },
    );
    assert.deepEqual(await adminIdentifiers(issuer), [`${issuer}/admin/v1`]);
    const events = await issuerEvents();
    assert.equal(events.length, 2);
    assert.deepEqual(events[1].details, {
      from: OTHER,
      to: issuer,
      clientsMoved: 1,
      via: 'development-start',
    });
  });
});

/** Runs `portcullis serve` until it logs that it listens, then stops it; returns its log lines. */
function serveUntilListening(env: Record<string, string>): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (/portcullis is listening/.test(out)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (!/portcullis is listening/.test(out))
        reject(new Error(`serve exited (${code}) without listening: ${err}${out}`));
      else resolve(out.split('\n').filter((l) => l.startsWith('{')));
    });
  });
}
