// `portcullis client create --grant device_code`: a public TV client with the device flow, shown
// with its grant by its short name; a fapi2 client refused it, one line and nothing written.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

describe('portcullis client create --grant device_code', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;

  before(async () => {
    ({ env, db } = await cliEnv());
    assert.equal((await runCli(['migrate'], env)).code, 0);
    const api = await runCli(
      ['api', 'create', '--identifier', 'https://tv.api.example', '--scope', 'tv:watch=Watch'],
      env,
    );
    assert.equal(api.code, 0, api.stderr);
  });
  after(async () => {
    await db?.drop();
  });

  const clientCount = async () =>
    JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout).length as number;

  test('a public TV client with the device flow and refresh tokens', async () => {
    const created = await runCli(
      [
        'client',
        'create',
        '--name',
        'Living room TV',
        '--grant',
        'device_code',
        '--grant',
        'refresh_token',
        '--public',
        '--api',
        'https://tv.api.example',
        '--json',
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const { clientId, secret } = JSON.parse(created.stdout);
    assert.equal(secret, undefined, 'a public client has no secret');
    const shown = await runCli(['client', 'show', clientId, '--json'], env);
    assert.equal(shown.code, 0, shown.stderr);
    const client = JSON.parse(shown.stdout);
    assert.deepEqual(client.grantTypes, ['device_code', 'refresh_token']);
    assert.deepEqual(client.redirectUris, []);
    assert.equal(client.authMethod, 'none');
  });

  test('a fapi2 client cannot have the device flow: one line, nothing written', async () => {
    const { publicKey } = await generateKeyPair('ES256');
    const jwksFile = join(mkdtempSync(join(tmpdir(), 'pc-device-')), 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [await exportJWK(publicKey)] }));
    const before = await clientCount();
    const refused = await runCli(
      [
        'client',
        'create',
        '--name',
        'FAPI TV',
        '--grant',
        'device_code',
        '--profile',
        'fapi2',
        '--jwks-file',
        jwksFile,
        '--api',
        'https://tv.api.example',
      ],
      env,
    );
    assertOneLineError(
      refused,
      'grantTypes: a fapi2 client cannot use device_code (the device flow is not part of FAPI 2.0)',
    );
    assert.equal(await clientCount(), before);
  });

  test('device_code is listed among the grants, and an unknown one is refused', async () => {
    const help = await runCli(['client', 'create', '--help'], env);
    assert.match(
      help.stdout.replace(/\s+/g, ' '),
      /grant type: authorization_code, client_credentials, refresh_token, device_code, token-exchange, ciba \(repeat\)/,
    );
    const refused = await runCli(
      ['client', 'create', '--name', 'X', '--grant', 'device', '--public'],
      env,
    );
    assertOneLineError(
      refused,
      '--grant device is not one of authorization_code, client_credentials, refresh_token, device_code, token-exchange, ciba',
    );
  });
});
