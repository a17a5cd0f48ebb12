// `portcullis admin bootstrap` for FAPI 2.0: under FAPI_PROFILE=2.0 (or --profile fapi2) the
// automation client needs its public keys (--jwks-file) and gets no secret; without them the
// command refuses in one line and writes nothing. --jwks-file alone: private_key_jwt, Bearer tokens.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connectDatabase } from '../../src/db/connect.ts';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';
import { signingKey } from '../support/fapi.ts';
import { PASSWORD } from '../support/fixtures.ts';

const REFUSED =
  'a FAPI 2.0 automation client authenticates with private_key_jwt, not a secret: give its public keys with --jwks-file';

describe('admin bootstrap for FAPI 2.0 automation clients', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;
  let publicJwks: string;
  let privateJwks: string;

  /** Users, clients and roles in the CLI's database (opened here while no command runs). */
  async function counts(): Promise<number[]> {
    const opened = db ?? (await connectDatabase({ embeddedDir: env.DATA_DIR }));
    try {
      const out: number[] = [];
      for (const table of ['users', 'clients', 'roles'])
        out.push(Number((await opened.knex(table).count<{ n: number }[]>('* as n'))[0]!.n));
      return out;
    } finally {
      if (!db) await opened.close();
    }
  }

  before(async () => {
    ({ env, db } = await cliEnv());
    const dir = mkdtempSync(join(tmpdir(), 'pc-bootstrap-jwks-'));
    const key = signingKey('ES256');
    publicJwks = join(dir, 'public.json');
    privateJwks = join(dir, 'private.json');
    writeFileSync(publicJwks, JSON.stringify({ keys: [{ ...key.publicJwk, alg: 'ES256' }] }));
    writeFileSync(privateJwks, JSON.stringify({ keys: [key.privateJwk] }));
  });
  after(async () => {
    await db?.drop();
  });

  test('refused without keys under FAPI_PROFILE=2.0 or --profile fapi2, and with bad options: nothing written', async () => {
    const before = await counts();
    const fapi = { ...env, FAPI_PROFILE: '2.0' };
    assertOneLineError(
      await runCli(['admin', 'bootstrap', '--email', 'root@example.com'], fapi, PASSWORD),
      REFUSED,
    );
    assertOneLineError(
      await runCli(
        ['admin', 'bootstrap', '--email', 'root@example.com', '--profile', 'fapi2'],
        env,
        PASSWORD,
      ),
      REFUSED,
    );
    assertOneLineError(
      await runCli(
        ['admin', 'bootstrap', '--email', 'root@example.com', '--profile', 'fapi1'],
        env,
        PASSWORD,
      ),
      '--profile must be one of default, fapi2',
    );
    assertOneLineError(
      await runCli(
        ['admin', 'bootstrap', '--email', 'root@example.com', '--jwks-file', privateJwks],
        fapi,
        PASSWORD,
      ),
      `--jwks-file ${privateJwks} contains a private key: give the client's public keys only`,
    );
    // FAPI_PROFILE=2.0 makes every client fapi2: asking for another profile is refused.
    assertOneLineError(
      await runCli(
        [
          'admin',
          'bootstrap',
          '--email',
          'root@example.com',
          '--jwks-file',
          publicJwks,
          '--profile',
          'default',
        ],
        fapi,
        PASSWORD,
      ),
      'profile: FAPI_PROFILE=2.0 makes every client fapi2',
    );
    assert.deepEqual(await counts(), before);
  });

  test('--jwks-file without FAPI: a private_key_jwt client with Bearer tokens, no secret printed', async () => {
    const result = await runCli(
      ['admin', 'bootstrap', '--email', 'keys@example.com', '--jwks-file', publicJwks],
      env,
      PASSWORD,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /client_secret/);
    assert.match(
      result.stdout,
      new RegExp(`^auth: +private_key_jwt with the keys of ${publicJwks}$`, 'm'),
    );
    assert.match(result.stdout, /^token: +POST \S+\/token with resource=\S+\/admin\/v1$/m);
  });

  test('under FAPI_PROFILE=2.0 with --jwks-file: a fapi2 client whose tokens are DPoP-bound', async () => {
    const result = await runCli(
      ['admin', 'bootstrap', '--email', 'fapi@example.com', '--jwks-file', publicJwks, '--force'],
      { ...env, FAPI_PROFILE: '2.0' },
      PASSWORD,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /client_secret/);
    assert.match(result.stdout, /with resource=\S+\/admin\/v1 and a DPoP proof$/m);
    assert.match(
      result.stdout,
      /^Call the admin API with Authorization: DPoP <token> and a fresh DPoP proof\.$/m,
    );
    const list = JSON.parse((await runCli(['client', 'list', '--json'], env)).stdout);
    const automation = list.filter(
      (c: { authMethod: string }) => c.authMethod === 'private_key_jwt',
    );
    assert.deepEqual(
      automation
        .map(
          (c: { profile: string; senderConstraint: string | null }) =>
            `${c.profile} ${c.senderConstraint}`,
        )
        .sort(),
      ['default null', 'fapi2 dpop'],
    );
  });
});
