// `portcullis client create --pkce optional` and `--dpop-bound`: set, shown with a warning by
// `client show` and by `portcullis access-review`; refused, in one line and with nothing
// written, for a public or a fapi2 client.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

const WARNING =
  'PKCE is optional for this client: its authorization codes are protected by its secret alone';

describe('portcullis client create --pkce optional', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;
  let jwksFile: string;

  const create = (...extra: string[]) => [
    'client',
    'create',
    '--name',
    'Certified RP',
    '--grant',
    'authorization_code',
    '--redirect-uri',
    'https://rp.example/callback',
    ...extra,
  ];
  const clientCount = async () =>
    JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout).length;

  before(async () => {
    ({ env, db } = await cliEnv());
    assert.equal((await runCli(['migrate'], env)).code, 0);
    const { publicKey } = await generateKeyPair('ES256');
    jwksFile = join(mkdtempSync(join(tmpdir(), 'pc-pkce-')), 'public.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [await exportJWK(publicKey)] }));
  });
  after(async () => {
    await db?.drop();
  });

  test('--help names the flags', async () => {
    const help = await runCli(['client', 'create', '--help'], env);
    assert.match(help.stdout, /--pkce <setting>/);
    assert.match(help.stdout, /--dpop-bound/);
  });

  test('created with PKCE optional: warned at creation, in client show and in the access review', async () => {
    const created = await runCli(create('--pkce', 'optional', '--json'), env);
    assert.equal(created.code, 0, created.stderr);
    const client = JSON.parse(created.stdout);
    assert.equal(client.pkce, 'optional');
    const json = JSON.parse(
      (await runCli(['client', 'show', client.clientId, '--json'], env)).stdout,
    );
    assert.equal(json.pkce, 'optional');
    assert.deepEqual(json.warnings, [WARNING]);
    const text = await runCli(['client', 'show', client.clientId], env);
    assert.match(text.stdout, /^pkce\s+optional$/m);
    assert.ok(text.stdout.includes(`warning: ${WARNING}`));
    const review = await runCli(['access-review'], env);
    assert.equal(review.code, 0, review.stderr);
    assert.ok(
      review.stdout.includes(`warning: client ${client.clientId} (Certified RP): ${WARNING}`),
    );
    const reviewJson = JSON.parse((await runCli(['access-review', '--json'], env)).stdout);
    assert.deepEqual(reviewJson.clientWarnings, [
      { clientId: client.clientId, name: 'Certified RP', warnings: [WARNING] },
    ]);
  });

  test('a default client: PKCE required, no warning', async () => {
    const created = await runCli(create('--json'), env);
    const client = JSON.parse(created.stdout);
    assert.equal(client.pkce, 'required');
    const json = JSON.parse(
      (await runCli(['client', 'show', client.clientId, '--json'], env)).stdout,
    );
    assert.deepEqual(json.warnings, []);
  });

  test('--dpop-bound binds its tokens to a DPoP key', async () => {
    const created = await runCli(create('--dpop-bound', '--json'), env);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(JSON.parse(created.stdout).senderConstraint, 'dpop');
    const before = await clientCount();
    assertOneLineError(
      await runCli(create('--dpop-bound', '--sender-constraint', 'mtls'), env),
      '--dpop-bound and --sender-constraint mtls contradict',
    );
    assert.equal(await clientCount(), before);
  });

  test('refused for a public client, a fapi2 client and an unknown setting: one line, nothing written', async () => {
    const before = await clientCount();
    assertOneLineError(
      await runCli(create('--public', '--pkce', 'optional'), env),
      'pkce: PKCE can be optional only for a confidential client: a public client always uses PKCE',
    );
    assertOneLineError(
      await runCli(
        create('--profile', 'fapi2', '--jwks-file', jwksFile, '--pkce', 'optional'),
        env,
      ),
      'pkce: a fapi2 client always uses PKCE: it cannot be optional',
    );
    assertOneLineError(
      await runCli(create('--pkce', 'sometimes'), env),
      '--pkce must be required or optional',
    );
    assert.equal(await clientCount(), before);
  });
});
