// What `portcullis` does before any real work: --help and --version load commander alone, the
// command list matches what each command's module declares, and `serve` on a busy port says so
// in one line before it loads a database module or creates the embedded database (the bench
// start-up section times it: wall-clock asserts would fail on a busy machine, not on a bug).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Command } from 'commander';
import { buildProgram, COMMANDS } from '../../src/cli/program.ts';
import { assertOneLineError, type CliResult } from '../support/cli.ts';
import { testSecrets } from '../support/server.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'portcullis.js');
const HOOK = join(ROOT, 'test', 'support', 'importLog.mjs');

/** Runs the CLI with the import log; returns its result and every module URL it loaded. */
function runLogged(args: string[], env: Record<string, string>) {
  const log = join(mkdtempSync(join(tmpdir(), 'pc-imports-')), 'imports.txt');
  return new Promise<CliResult & { modules: string[] }>((resolve) => {
    const child = spawn(process.execPath, ['--import', HOOK, BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', IMPORT_LOG: log, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) =>
      resolve({
        code,
        stdout,
        stderr,
        modules: existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [],
      }),
    );
  });
}

const HEAVY =
  /\/node_modules\/(knex|pg|oidc-provider|argon2|@electric-sql|koa|zod|pino)\/|\/(src|dist)\/(app|main|cli\/context)\.(ts|js)$/;

describe('portcullis start-up', () => {
  test('--help and --version load commander and the command list, nothing heavy', async () => {
    const help = await runLogged(['--help'], {});
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /access-review \[options\]/);
    assert.ok(
      help.modules.some((m) => m.includes('/cli/program.')),
      'the import log works',
    );
    assert.deepEqual(
      help.modules.filter((m) => HEAVY.test(m)),
      [],
    );
    const version = await runLogged(['--version'], {});
    assert.equal(version.code, 0);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    assert.equal(version.stdout, `${pkg.version}\n`);
    assert.deepEqual(
      version.modules.filter((m) => HEAVY.test(m)),
      [],
    );
  });

  test('the command list says what each command module declares', async () => {
    for (const entry of COMMANDS) {
      const scratch = new Command('portcullis');
      (await entry.load())(scratch);
      const real = scratch.commands.find((c) => c.name() === entry.name);
      assert.ok(real, `${entry.name} is declared by its module`);
      assert.equal(entry.description, real.description(), entry.name);
      const program = await buildProgram(['node', 'portcullis', entry.name]);
      const listed = program.createHelp().subcommandTerm(real);
      assert.equal(entry.term ?? entry.name, listed, `${entry.name}: how --help lists it`);
    }
  });

  test('serve on a busy port: one line, exit 1, before the embedded database is created', async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const { port } = holder.address() as { port: number };
    const dataDir = mkdtempSync(join(tmpdir(), 'pc-busy-'));
    try {
      const result = await runLogged(['serve'], {
        ...testSecrets(),
        DATA_DIR: dataDir,
        PORT: String(port),
        ISSUER: `http://localhost:${port}`,
      });
      assertOneLineError(
        result,
        `port ${port} is already in use (something listens on 127.0.0.1:${port}: another Portcullis? stop it, or set PORT)`,
      );
      assert.equal(result.code, 1);
      assert.equal(existsSync(join(dataDir, 'pgdata')), false, 'the database was not opened');
      assert.deepEqual(
        result.modules.filter((m) =>
          /\/node_modules\/(knex|pg|oidc-provider|argon2|@electric-sql)\//.test(m),
        ),
        [],
      );
    } finally {
      holder.close();
    }
  });
});
