// The `portcullis` command as a user runs it: a real process, real output, real exit codes.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

describe('portcullis CLI', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;

  before(async () => {
    ({ env, db } = await cliEnv());
  });
  after(async () => {
    await db?.drop();
  });

  test('--help describes every command', async () => {
    const { code, stdout } = await runCli(['--help'], env);
    assert.equal(code, 0);
    for (const cmd of ['serve', 'migrate', 'api', 'client', 'keys'])
      assert.match(stdout, new RegExp(`\\b${cmd}\\b`));
    const sub = await runCli(['client', 'create', '--help'], env);
    assert.match(sub.stdout, /--redirect-uri/);
  });

  test('bad configuration: one line, non-zero exit', async () => {
    assertOneLineError(
      await runCli(['migrate'], { ...env, PORT: 'eighty' }),
      'Invalid configuration: PORT must be a whole number',
    );
    assertOneLineError(
      await runCli(['serve'], { ...env, ISSUER: 'not a url' }),
      'Invalid configuration: ISSUER must be an absolute http(s) origin such as https://auth.example.com (no path, query or fragment)',
    );
  });

  test('an unreachable database: one line, non-zero exit', async () => {
    const unreachable = { ...env, DATABASE_URL: 'postgres://portcullis@127.0.0.1:1/portcullis' };
    assertOneLineError(
      await runCli(['api', 'list'], unreachable),
      'cannot reach the database (connection refused)',
    );
    const serve = await runCli(['serve'], { ...unreachable, LOG_LEVEL: 'silent' });
    assertOneLineError(serve, 'cannot reach the database (connection refused)');
  });

  test('migrate, then api and client management with --json output', async () => {
    const migrate = await runCli(['migrate', '--json'], env);
    assert.equal(migrate.code, 0, migrate.stderr);
    const api = await runCli(
      [
        'api',
        'create',
        '--identifier',
        'https://cards.api.example',
        '--scope',
        'cards:read=See your cards',
        '--format',
        'opaque',
        '--json',
      ],
      env,
    );
    assert.equal(api.code, 0, api.stderr);
    assert.equal(JSON.parse(api.stdout).tokenFormat, 'opaque');

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
        '--json',
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const client = JSON.parse(created.stdout);
    assert.match(client.clientSecret, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(client.apiAccess, { 'https://cards.api.example': ['cards:read'] });

    const list = await runCli(['client', 'list', '--json'], env);
    const listed = JSON.parse(list.stdout) as {
      clientId: string;
      createdBy: string;
      clientSecret?: string;
    }[];
    // Beside it, the built-in client of the account page.
    assert.deepEqual(listed.map((c) => c.createdBy).sort(), ['cli', 'system']);
    assert.ok(
      listed.every((c) => c.clientSecret === undefined),
      'secrets are never listed',
    );
    assert.ok(!list.stdout.includes(client.clientSecret));

    const table = await runCli(['api', 'list'], env);
    assert.match(
      table.stdout,
      /^IDENTIFIER\s+NAME\s+FORMAT\s+TTL\s+SCOPES\s+RESOURCE_SERVERS\s+DETAIL_TYPES$/m,
    );
    assert.match(table.stdout, /https:\/\/cards\.api\.example\s.*cards:read/);

    const deleted = await runCli(['client', 'delete', client.clientId], env);
    assert.equal(deleted.code, 0);
    assertOneLineError(
      await runCli(['client', 'delete', client.clientId], env),
      `no client ${client.clientId}`,
    );
  });

  test('private_key_jwt clients take their public keys from a file', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const dir = mkdtempSync(join(tmpdir(), 'pc-jwks-'));
    writeFileSync(join(dir, 'public.json'), JSON.stringify({ keys: [await exportJWK(publicKey)] }));
    writeFileSync(
      join(dir, 'private.json'),
      JSON.stringify({ keys: [await exportJWK(privateKey)] }),
    );
    const base = [
      'client',
      'create',
      '--name',
      'Signed',
      '--grant',
      'client_credentials',
      '--api',
      'https://cards.api.example',
      '--auth',
      'private_key_jwt',
    ];
    const ok = await runCli([...base, '--jwks-file', join(dir, 'public.json'), '--json'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).clientSecret, undefined);
    assertOneLineError(
      await runCli([...base, '--jwks-file', join(dir, 'private.json')], env),
      `--jwks-file ${join(dir, 'private.json')} contains a private key: give the client's public keys only`,
    );
    assertOneLineError(await runCli(base, env), '--auth private_key_jwt needs --jwks-file');
  });

  test('bad input: one line, non-zero exit, nothing written', async () => {
    const before = JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout).length;
    assertOneLineError(
      await runCli(
        [
          'client',
          'create',
          '--name',
          'x',
          '--grant',
          'password',
          '--api',
          'https://cards.api.example',
        ],
        env,
      ),
      '--grant password is not one of authorization_code, client_credentials, refresh_token, device_code, token-exchange, ciba',
    );
    assertOneLineError(
      await runCli(
        [
          'client',
          'create',
          '--name',
          'Web',
          '--grant',
          'authorization_code',
          '--redirect-uri',
          'http://evil.example/cb',
        ],
        env,
      ),
      'redirectUris: redirect URI http://evil.example/cb must use https (http is allowed only on loopback)',
    );
    assertOneLineError(
      await runCli(
        [
          'client',
          'create',
          '--name',
          'x',
          '--grant',
          'client_credentials',
          '--api',
          'https://nope.example',
        ],
        env,
      ),
      'no API with identifier https://nope.example is registered (see "portcullis api list")',
    );
    assertOneLineError(
      await runCli(
        ['api', 'create', '--identifier', 'https://x.example', '--scope', 'noequals'],
        env,
      ),
      `--scope "noequals" must look like 'name=Description people read'`,
    );
    assertOneLineError(
      await runCli(
        ['api', 'create', '--identifier', 'https://x.example', '--scope', 'openid=Log in'],
        env,
      ),
      'scopes: scope "openid" is reserved by OpenID Connect',
    );
    const after = JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout).length;
    assert.equal(after, before);
    const apis = JSON.parse((await runCli(['api', 'list', '--json'], env)).stdout);
    // The admin API ({ISSUER}/admin/v1) is always in the catalogue.
    assert.deepEqual(
      apis.map((a: { identifier: string }) => a.identifier),
      ['http://localhost:3000/admin/v1', 'https://cards.api.example'],
    );
    // Commander reports a missing option itself, also with a non-zero exit.
    const missing = await runCli(['api', 'create', '--identifier', 'https://x.example'], env);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /required option '--scope <name=description>' not specified/);
  });

  test('keys list and rotate', async () => {
    type Key = { alg: string; status: string };
    const summary = (keys: Key[]) => keys.map((k) => `${k.alg} ${k.status}`).sort();
    const before = JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout) as Key[];
    // One signing key per algorithm: the default (ES256) and RS256 (OpenID Connect Core §15.1).
    assert.deepEqual(summary(before), ['ES256 active', 'RS256 active']);
    const rotated = await runCli(['keys', 'rotate', '--json'], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal(JSON.parse(rotated.stdout).alg, 'ES256');
    const rsa = await runCli(['keys', 'rotate', '--alg', 'RS256'], env);
    assert.equal(rsa.code, 0, rsa.stderr);
    assert.match(rsa.stdout, /^staged key \S+ \(RS256\): signs from /);
    assertOneLineError(
      await runCli(['keys', 'rotate', '--alg', 'HS256'], env),
      "alg: alg must be one of the ring's algorithms: ES256, RS256",
    );
    const after = JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout) as Key[];
    assert.deepEqual(summary(after), [
      'ES256 active',
      'ES256 staged',
      'RS256 active',
      'RS256 staged',
    ]);
    const reencrypt = await runCli(['keys', 'reencrypt', '--json'], env);
    assert.deepEqual(JSON.parse(reencrypt.stdout), {
      signingKeys: 0,
      clientSecrets: 0,
      totpSeeds: 0,
    });
  });
});
