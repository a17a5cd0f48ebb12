// `portcullis client create --grant ciba`: poll and ping clients, shown by `client show --json`;
// a ping client without its notification endpoint refused in one line, with nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CIBA_GRANT_TYPE } from '../../src/oidc/cibaClients.ts';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

describe('portcullis client create --grant ciba', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;
  const clientCount = async () =>
    JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout).length;

  before(async () => {
    ({ env, db } = await cliEnv());
    assert.equal((await runCli(['migrate'], env)).code, 0);
  });
  after(async () => {
    await db?.drop();
  });

  test('a ping client, shown with its settings', async () => {
    const created = await runCli(
      [
        'client',
        'create',
        '--name',
        'Call Centre',
        '--grant',
        'ciba',
        '--ciba-mode',
        'ping',
        '--ciba-notification-endpoint',
        'https://callcentre.example/ciba',
        '--json',
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const json = JSON.parse(created.stdout);
    assert.deepEqual(json.grantTypes, [CIBA_GRANT_TYPE]);
    assert.equal(json.backchannel.mode, 'ping');
    assert.equal(json.backchannel.notificationEndpoint, 'https://callcentre.example/ciba');
    assert.equal(json.backchannel.signingAlg ?? null, null);
    const shown = await runCli(['client', 'show', json.clientId, '--json'], env);
    assert.deepEqual(JSON.parse(shown.stdout).backchannel, json.backchannel);
  });

  test('ping without a notification endpoint: one line, nothing written', async () => {
    const before = await clientCount();
    const r = await runCli(
      ['client', 'create', '--name', 'Broken', '--grant', 'ciba', '--ciba-mode', 'ping'],
      env,
    );
    assertOneLineError(
      r,
      'backchannel: ping mode needs a client notification endpoint: an absolute https URL without fragment',
    );
    assert.equal(await clientCount(), before);
  });

  test('an unknown delivery mode: one line, nothing written', async () => {
    const before = await clientCount();
    const r = await runCli(
      ['client', 'create', '--name', 'Pushy', '--grant', 'ciba', '--ciba-mode', 'push'],
      env,
    );
    assertOneLineError(r, '--ciba-mode must be poll or ping');
    assert.equal(await clientCount(), before);
  });
});
