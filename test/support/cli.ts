// Runs the `portcullis` command as a user would: a real process, real output, real exit codes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from './db.ts';
import { auditCoverageEnv, testSecrets } from './server.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'portcullis.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...auditCoverageEnv(), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdin.end(input ?? '');
    child.on('close', (code) =>
      resolve({
        code,
        stdout,
        stderr: stderr.replace(/^oidc-provider WARNING: Unsupported runtime.*\n/m, ''),
      }),
    );
  });
}

/** A failure is exactly one line on stderr, a non-zero exit, and no stack trace. */
export function assertOneLineError(result: CliResult, message: string): void {
  assert.notEqual(result.code, 0);
  assert.equal(result.stderr, `portcullis: ${message}\n`);
  assert.doesNotMatch(result.stderr + result.stdout, /\n\s+at /);
}

/**
 * Environment for CLI runs against a database of their own: a new PostgreSQL database when
 * TEST_DATABASE_URL is set, otherwise an embedded one in a temporary DATA_DIR.
 */
export async function cliEnv(): Promise<{
  env: Record<string, string>;
  db: TestDatabase | undefined;
}> {
  const secrets = testSecrets();
  if (testDatabaseKind() === 'postgres') {
    const db = await createTestDatabase('postgres');
    return { env: { ...secrets, DATABASE_URL: db.url! }, db };
  }
  return { env: { ...secrets, DATA_DIR: mkdtempSync(join(tmpdir(), 'pc-cli-')) }, db: undefined };
}
