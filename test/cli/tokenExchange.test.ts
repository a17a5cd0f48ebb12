// How a resource server gets the token exchange grant from the CLI: `--grant token-exchange` (or
// the grant type's URN); a public client is refused it, in one line, with nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const STATEMENTS = 'https://statements.api.example';

describe('portcullis client create --grant token-exchange', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;

  before(async () => {
    ({ env, db } = await cliEnv());
    assert.equal((await runCli(['migrate'], env)).code, 0);
    const api = await runCli(
      ['api', 'create', '--identifier', STATEMENTS, '--scope', 'statements:read=Read statements'],
      env,
    );
    assert.equal(api.code, 0, api.stderr);
  });
  after(async () => {
    await db?.drop();
  });

  const create = (...extra: string[]) =>
    runCli(
      ['client', 'create', '--name', 'Accounts API', '--api', STATEMENTS, ...extra, '--json'],
      env,
    );

  test('the short name and the URN both register the grant type', async () => {
    for (const grant of ['token-exchange', EXCHANGE]) {
      const created = await create('--grant', grant);
      assert.equal(created.code, 0, created.stderr);
      const client = JSON.parse(created.stdout);
      assert.deepEqual(client.grantTypes, [EXCHANGE]);
      assert.deepEqual(client.apiAccess, { [STATEMENTS]: ['statements:read'] });
      assert.match(client.clientSecret, /^[A-Za-z0-9_-]{43}$/);
    }
  });

  test('a public client cannot exchange tokens', async () => {
    const before = JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout).length;
    assertOneLineError(
      await runCli(
        [
          'client',
          'create',
          '--name',
          'Phone',
          '--public',
          '--grant',
          'token-exchange',
          '--api',
          STATEMENTS,
        ],
        env,
      ),
      'grantTypes: a public client (no authentication) cannot exchange tokens',
    );
    const after = JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout).length;
    assert.equal(after, before);
  });
});
