// `portcullis client create --require-signed-request-object`: set and shown by `client show`;
// refused, in one line and with nothing written, for a client without keys.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

describe('portcullis client create --require-signed-request-object', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;
  let jwksFile: string;

  const create = (...extra: string[]) => [
    'client',
    'create',
    '--name',
    'Third-party provider',
    '--grant',
    'authorization_code',
    '--redirect-uri',
    'https://tpp.example/callback',
    '--require-signed-request-object',
    ...extra,
  ];
  const clientCount = async () =>
    JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout).length;

  before(async () => {
    ({ env, db } = await cliEnv());
    assert.equal((await runCli(['migrate'], env)).code, 0);
    const { publicKey } = await generateKeyPair('ES256');
    jwksFile = join(mkdtempSync(join(tmpdir(), 'pc-jar-')), 'public.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [await exportJWK(publicKey)] }));
  });
  after(async () => {
    await db?.drop();
  });

  test('--help names the flag', async () => {
    const help = await runCli(['client', 'create', '--help'], env);
    assert.match(help.stdout, /--require-signed-request-object/);
  });

  test('created with the flag, shown by client show (text and --json)', async () => {
    const created = await runCli(
      create('--auth', 'private_key_jwt', '--jwks-file', jwksFile, '--json'),
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const client = JSON.parse(created.stdout);
    assert.equal(client.requireSignedRequestObject, true);
    const json = await runCli(['client', 'show', client.clientId, '--json'], env);
    assert.equal(JSON.parse(json.stdout).requireSignedRequestObject, true);
    const text = await runCli(['client', 'show', client.clientId], env);
    assert.match(text.stdout, /^requireSignedRequestObject\s+true$/m);
  });

  test('refused for a client with a secret (no keys to verify with): one line, nothing written', async () => {
    const before = await clientCount();
    assertOneLineError(
      await runCli(create('--auth', 'client_secret_basic'), env),
      "requireSignedRequestObject: signed request objects need the client's public keys (a JWKS or a JWKS URI)",
    );
    assert.equal(await clientCount(), before);
  });
});
