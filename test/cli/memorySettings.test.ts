// `portcullis serve` runs with its memory settings (bin/memory.js): the serving process has them
// in its environment, stops on the signal its launcher gets, and with them the 19 MiB working
// area of each Argon2 hash goes back to the system instead of staying in a libuv thread's arena.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { MALLOC_TUNABLES, memoryEnvironment, V8_FLAGS } from '../../bin/memory.js';
import { cliEnv } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';
import { auditCoverageEnv, freePort } from '../support/server.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'portcullis.js');

const hugePages = (() => {
  try {
    return !/\[never\]/.test(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'));
  } catch {
    return false;
  }
})();
/** glibc's malloc (the tunables mean nothing to musl's). */
const glibc =
  process.platform === 'linux' &&
  Boolean(
    (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)
      ?.header?.glibcVersionRuntime,
  );
const tunablesApply = glibc && hugePages;

/** The environment a process started with (NUL-separated in /proc). */
function environOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return Object.fromEntries(
    entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
}

/** The serving process: the launcher's only child on Node < 22.15, the launcher itself after execve. */
function servingPid(launcher: number): number {
  const children = readFileSync(`/proc/${launcher}/task/${launcher}/children`, 'utf8').trim();
  return children ? Number(children.split(/\s+/)[0]) : launcher;
}

/** Until it answers /healthz (up: this test is about the process, not its readiness checks). */
async function untilUp(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    assert.equal(child.exitCode, null, 'the server exited before it was up');
    try {
      if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) })).status === 200)
        return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the server was not up in 90 s');
}

describe('portcullis serve and its memory settings', {
  skip: process.platform !== 'linux' && 'reads /proc',
}, () => {
  // Each start gets a database of its own: a database serves the ISSUER it first served.
  const databases: (TestDatabase | undefined)[] = [];
  after(async () => {
    for (const db of databases) await db?.drop();
  });

  async function serve(extra: Record<string, string> = {}) {
    const { env, db } = await cliEnv();
    databases.push(db);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        PATH: process.env.PATH ?? '',
        LOG_LEVEL: 'warn',
        ...auditCoverageEnv(),
        ...env,
        NODE_ENV: 'development',
        HOST: '127.0.0.1',
        PORT: String(port),
        ISSUER: url,
        ...extra,
      },
      stdio: 'ignore',
    });
    const exited = new Promise<[number | null, string | null]>((resolve) =>
      child.once('exit', (code, signal) => resolve([code, signal])),
    );
    try {
      await untilUp(url, child);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    return { child, exited, url };
  }

  test('the serving process has the tunables and V8 flags, and stops on SIGTERM to its launcher', async () => {
    const { child, exited } = await serve();
    const pid = servingPid(child.pid!);
    const seen = environOf(pid);
    assert.equal(seen.PORTCULLIS_MEMORY_SETTINGS, '1');
    // glibc may rewrite the variable in the process' own environment once it has read it (as
    // Debian's 2.36 does): its effect is what the Argon2 tests below check.
    if (tunablesApply) assert.match(seen.GLIBC_TUNABLES ?? '', /^glibc\.malloc\.hugetlb=1/);
    for (const flag of V8_FLAGS)
      assert.ok(seen.NODE_OPTIONS?.split(' ').includes(flag), seen.NODE_OPTIONS);
    child.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null]);
    assert.throws(
      () => readFileSync(`/proc/${pid}/status`),
      /ENOENT/,
      'the server outlived its launcher',
    );
  });

  test('MEMORY_SETTINGS=off starts it as it is, and operator settings are kept', async () => {
    const { child, exited } = await serve({ MEMORY_SETTINGS: 'off' });
    assert.equal(servingPid(child.pid!), child.pid);
    assert.equal(environOf(child.pid!).GLIBC_TUNABLES, undefined);
    child.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null]);

    const own = memoryEnvironment(
      {
        GLIBC_TUNABLES: 'glibc.malloc.arena_max=2',
        NODE_OPTIONS: '--max-semi-space-size=32 --max-old-space-size=4096',
      },
      'linux',
      () => true,
    );
    assert.equal(own, undefined);
    // One flag of the operator's own: it stays, and only the other is added before it.
    const heap = memoryEnvironment(
      { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2', NODE_OPTIONS: '--max-old-space-size=4096' },
      'linux',
      () => true,
    );
    assert.equal(heap?.NODE_OPTIONS, '--max-semi-space-size=8 --max-old-space-size=4096');
    const ours = memoryEnvironment({ NODE_OPTIONS: '--enable-source-maps' }, 'linux', () => true);
    assert.equal(ours?.GLIBC_TUNABLES, MALLOC_TUNABLES);
    assert.equal(ours?.NODE_OPTIONS, `${V8_FLAGS.join(' ')} --enable-source-maps`);
    assert.equal(memoryEnvironment({}, 'linux', () => false)?.GLIBC_TUNABLES, undefined);
  });
});

/**
 * Four Argon2id hashes at once (m = 19 MiB) on a four-thread libuv pool, through Portcullis'
 * hasher; prints how much the RSS grew and stayed after they finished, in MiB.
 */
function rssKeptAfterHashes(env: NodeJS.ProcessEnv): number {
  const script = `
    const { createPasswordHasher, OWASP_ARGON2 } = await import('./src/accounts/passwords.ts');
    const hasher = createPasswordHasher({ params: OWASP_ARGON2, concurrency: 4 });
    const rss = () => process.memoryUsage().rss / 1048576;
    const hash = await hasher.hash('correct horse');
    const start = rss();
    for (let i = 0; i < 3; i++)
      await Promise.all([1, 2, 3, 4].map(() => hasher.verify(hash, 'correct horse')));
    console.log(rss() - start);`;
  const out = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '--eval', script],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', NODE_NO_WARNINGS: '1', UV_THREADPOOL_SIZE: '4', ...env },
    },
  );
  assert.equal(out.status, 0, out.stderr);
  return Number(out.stdout.trim());
}

describe('Argon2 memory with the settings', {
  skip: !tunablesApply && 'glibc with transparent huge pages only',
}, () => {
  test('each hash returns its working area: the RSS keeps less than one (19 MiB)', () => {
    const settings = memoryEnvironment({}, 'linux', () => true)!;
    const kept = rssKeptAfterHashes({ GLIBC_TUNABLES: settings.GLIBC_TUNABLES });
    assert.ok(kept < 19, `RSS kept ${kept.toFixed(1)} MiB after the hashes`);
  });

  test('without them each pool thread keeps one (the measurement sees what the settings prevent)', () => {
    const kept = rssKeptAfterHashes({});
    assert.ok(kept > 2 * 19, `RSS kept only ${kept.toFixed(1)} MiB without the settings`);
  });
});
