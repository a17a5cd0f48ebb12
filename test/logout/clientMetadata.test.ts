// Logout URIs of a client through each way of registering one: the CLI (create, update, none),
// the admin API, and dynamic registration's rules; bad URIs are refused with a clear message and
// nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

describe('portcullis client --backchannel-logout-uri / --frontchannel-logout-uri', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;
  let clientId: string;

  before(async () => {
    ({ env, db } = await cliEnv());
    assert.equal((await runCli(['migrate'], env)).code, 0);
  });
  after(async () => {
    await db?.drop();
  });

  const show = async () => {
    const shown = await runCli(['client', 'show', clientId, '--json'], env);
    assert.equal(shown.code, 0, shown.stderr);
    return JSON.parse(shown.stdout);
  };

  test('create with logout URIs, change one, remove one; audited', async () => {
    const created = await runCli(
      [
        'client',
        'create',
        '--name',
        'Web shop',
        '--grant',
        'authorization_code',
        '--redirect-uri',
        'https://shop.example/cb',
        '--backchannel-logout-uri',
        'https://shop.example/backchannel',
        '--frontchannel-logout-uri',
        'https://shop.example/frontchannel',
        '--json',
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    clientId = JSON.parse(created.stdout).clientId;
    const shown = await show();
    assert.equal(shown.backchannelLogoutUri, 'https://shop.example/backchannel');
    assert.equal(shown.frontchannelLogoutUri, 'https://shop.example/frontchannel');

    const updated = await runCli(
      [
        'client',
        'update',
        clientId,
        '--backchannel-logout-uri',
        'https://shop.example/bc2',
        '--frontchannel-logout-uri',
        'none',
      ],
      env,
    );
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal(
      updated.stdout,
      `logout URIs of ${clientId}: back-channel https://shop.example/bc2, front-channel none\n`,
    );
    const after = await show();
    assert.equal(after.backchannelLogoutUri, 'https://shop.example/bc2');
    assert.equal(after.frontchannelLogoutUri, null);
    assert.equal(after.name, 'Web shop', 'the rest of the client is unchanged');
    assert.deepEqual(after.redirectUris, ['https://shop.example/cb']);

    const audit = await runCli(['audit', 'list', '--action', 'client.updated', '--json'], env);
    const [change] = JSON.parse(audit.stdout).events.map((e: { details: unknown }) => e.details);
    assert.deepEqual(change, {
      before: {
        backchannelLogoutUri: 'https://shop.example/backchannel',
        frontchannelLogoutUri: 'https://shop.example/frontchannel',
      },
      after: { backchannelLogoutUri: 'https://shop.example/bc2', frontchannelLogoutUri: null },
      via: 'cli',
    });
  });

  test('bad logout URIs: one line, non-zero exit, nothing changed', async () => {
    const before = await show();
    assertOneLineError(
      await runCli(
        ['client', 'update', clientId, '--backchannel-logout-uri', 'http://shop.example/bc'],
        env,
      ),
      'backchannelLogoutUri: the logout URI http://shop.example/bc must use https (http is allowed only on loopback)',
    );
    assertOneLineError(
      await runCli(['client', 'update', clientId, '--frontchannel-logout-uri', 'not a uri'], env),
      'frontchannelLogoutUri: the logout URI not a uri must be absolute and have no fragment',
    );
    assertOneLineError(
      await runCli(['client', 'update', clientId], env),
      'nothing to change (see "portcullis client update --help")',
    );
    assert.deepEqual(await show(), before);
    const machine = await runCli(
      [
        'client',
        'create',
        '--name',
        'Batch',
        '--grant',
        'client_credentials',
        '--backchannel-logout-uri',
        'https://batch.example/bc',
      ],
      env,
    );
    assertOneLineError(
      machine,
      'backchannelLogoutUri: logout URIs only make sense with the authorization_code grant',
    );
  });
});
