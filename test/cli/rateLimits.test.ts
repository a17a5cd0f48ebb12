// `portcullis client create|update --rate-limit` and `client show`: a client's own request
// limit set, shown with where it comes from, put back on the default, audited; bad values are
// one line and a non-zero exit, with nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

describe('portcullis client --rate-limit', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;
  let clientId: string;

  before(async () => {
    ({ env, db } = await cliEnv());
    env = { ...env, CLIENT_RATE_LIMIT: '5000/10' };
    assert.equal((await runCli(['migrate'], env)).code, 0);
    const api = await runCli(
      [
        'api',
        'create',
        '--identifier',
        'https://cards.api.example',
        '--scope',
        'cards:read=See your cards',
      ],
      env,
    );
    assert.equal(api.code, 0, api.stderr);
  });
  after(async () => {
    await db?.drop();
  });

  const show = async () => {
    const shown = await runCli(['client', 'show', clientId, '--json'], env);
    assert.equal(shown.code, 0, shown.stderr);
    return JSON.parse(shown.stdout);
  };

  test('create with a limit, show it, change it, put it back on the default', async () => {
    const created = await runCli(
      [
        'client',
        'create',
        '--name',
        'Cards job',
        '--grant',
        'client_credentials',
        '--api',
        'https://cards.api.example',
        '--rate-limit',
        '600/60',
        '--json',
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    clientId = JSON.parse(created.stdout).clientId;
    assert.deepEqual((await show()).rateLimit, { requests: 600, windowSeconds: 60 });
    const text = await runCli(['client', 'show', clientId], env);
    assert.match(text.stdout, /^rateLimit\s+600\/60$/m);

    const updated = await runCli(['client', 'update', clientId, '--rate-limit', '50/1'], env);
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(updated.stdout, `rate limit of ${clientId}: 50/1\n`);
    assert.deepEqual((await show()).rateLimit, { requests: 50, windowSeconds: 1 });

    const reset = await runCli(['client', 'update', clientId, '--rate-limit', 'default'], env);
    assert.equal(reset.stdout, `rate limit of ${clientId}: default (5000/10)\n`);
    assert.equal((await show()).rateLimit, null);

    const audit = await runCli(['audit', 'list', '--action', 'client.updated', '--json'], env);
    assert.equal(audit.code, 0, audit.stderr);
    const changes = JSON.parse(audit.stdout).events.map((e: { details: unknown }) => e.details);
    assert.deepEqual(changes, [
      {
        before: { rateLimit: { requests: 600, windowSeconds: 60 } },
        after: { rateLimit: { requests: 50, windowSeconds: 1 } },
        via: 'cli',
      },
      {
        before: { rateLimit: { requests: 50, windowSeconds: 1 } },
        after: { rateLimit: null },
        via: 'cli',
      },
    ]);
  });

  test('bad limits: one line, non-zero exit, nothing changed', async () => {
    const before = await show();
    assertOneLineError(
      await runCli(['client', 'update', clientId, '--rate-limit', 'off'], env),
      '--rate-limit must be N/SECONDS, e.g. 600/60 for 600 requests a minute, or default',
    );
    assertOneLineError(
      await runCli(['client', 'update', clientId, '--rate-limit', '10/0'], env),
      '--rate-limit the window must be a whole number of seconds from 1 to 86400, or default',
    );
    assertOneLineError(
      await runCli(['client', 'update', 'no-such-client', '--rate-limit', '10/1'], env),
      'no client no-such-client',
    );
    assert.deepEqual(await show(), before);
  });
});
