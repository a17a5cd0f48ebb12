// The CLI side of issue 15 items 1 and 3: `client create/update --id-token-alg` (and its kin)
// among SIGNING_ALGS, fapi2 clients refused RS256, and `api create/update --public`. Refusals
// are one line, a non-zero exit, and nothing written.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';
import { signingKey } from '../support/fapi.ts';

const RATES = 'https://rates.api.example';
const FAPI_MESSAGE =
  "idTokenAlg: a fapi2 client's responses are signed with PS256, ES256, Ed25519, EdDSA only (not RS256)";

describe('portcullis client --id-token-alg and api --public', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;
  let clientId: string;

  const cli = async (args: string[]) => {
    const result = await runCli(args, env);
    assert.equal(result.code, 0, result.stderr);
    return result;
  };
  const json = async (args: string[]) => JSON.parse((await cli([...args, '--json'])).stdout);
  const clientCount = async () => (await json(['client', 'list'])).length as number;

  before(async () => {
    ({ env, db } = await cliEnv());
    env = { ...env, SIGNING_ALGS: 'ES256,PS256' };
    await cli(['api', 'create', '--identifier', RATES, '--scope', 'rates:read=Read rates']);
  });
  after(async () => {
    await db?.drop();
  });

  test('client create --id-token-alg RS256 --userinfo-alg PS256; shown and audited', async () => {
    const created = await json([
      'client',
      'create',
      '--name',
      'Legacy RP',
      '--grant',
      'authorization_code',
      '--redirect-uri',
      'https://rp.example/cb',
      '--api',
      RATES,
      '--id-token-alg',
      'RS256',
      '--userinfo-alg',
      'PS256',
    ]);
    clientId = created.clientId;
    assert.deepEqual(created.signing, { idTokenAlg: 'RS256', userinfoAlg: 'PS256' });
    const shown = (await cli(['client', 'show', clientId])).stdout;
    assert.match(shown, /^signing\s+\{"idTokenAlg":"RS256","userinfoAlg":"PS256"\}$/m);
    const { events } = await json(['audit', 'list', '--action', 'client.created']);
    assert.deepEqual(events.at(-1).details.signing, { idTokenAlg: 'RS256', userinfoAlg: 'PS256' });
  });

  test('client update --id-token-alg changes that one and keeps the others; audited', async () => {
    const updated = await json(['client', 'update', clientId, '--id-token-alg', 'ES256']);
    assert.deepEqual(updated.signing, { userinfoAlg: 'PS256' }, 'ES256 is the default');
    const { events } = await json(['audit', 'list', '--action', 'client.updated']);
    assert.deepEqual(events.at(-1).details.before.signing, {
      idTokenAlg: 'RS256',
      userinfoAlg: 'PS256',
    });
    assert.deepEqual(events.at(-1).details.after.signing, { userinfoAlg: 'PS256' });
  });

  test('refusals: an algorithm outside SIGNING_ALGS, RS256 for a fapi2 client, nothing to change', async () => {
    const before = await clientCount();
    const { events: auditBefore } = await json(['audit', 'list', '--limit', '500']);
    assertOneLineError(
      await runCli(['client', 'update', clientId, '--id-token-alg', 'HS256'], env),
      'idTokenAlg: id_token_signed_response_alg must be one of ES256, PS256, RS256',
    );
    assertOneLineError(
      await runCli(['client', 'update', clientId], env),
      'nothing to change (see "portcullis client update --help")',
    );
    const jwksFile = join(mkdtempSync(join(tmpdir(), 'pc-jwks-')), 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [signingKey('PS256').publicJwk] }));
    const fapi = [
      'client',
      'create',
      '--name',
      'Open banking TPP',
      '--grant',
      'authorization_code',
      '--redirect-uri',
      'https://tpp.example/cb',
      '--api',
      RATES,
      '--profile',
      'fapi2',
      '--auth',
      'private_key_jwt',
      '--jwks-file',
      jwksFile,
      '--id-token-alg',
      'RS256',
    ];
    assertOneLineError(await runCli(fapi, env), FAPI_MESSAGE);
    assert.equal(await clientCount(), before, 'nothing written');
    assert.deepEqual((await json(['client', 'show', clientId])).signing, { userinfoAlg: 'PS256' });
    const { events: auditAfter } = await json(['audit', 'list', '--limit', '500']);
    assert.equal(auditAfter.length, auditBefore.length, 'nothing recorded');
  });

  test('api create --public, api update --no-public; shown and audited', async () => {
    const created = await json([
      'api',
      'create',
      '--identifier',
      'https://fx.api.example',
      '--scope',
      'fx:read=Read FX',
      '--public',
    ]);
    assert.equal(created.public, true);
    assert.equal((await json(['api', 'show', '--identifier', RATES])).public, false);
    const { events } = await json(['audit', 'list', '--action', 'api.created']);
    assert.equal(events.at(-1).details.public, true);
    const updated = await json([
      'api',
      'update',
      '--identifier',
      'https://fx.api.example',
      '--no-public',
    ]);
    assert.equal(updated.public, false);
    const changes = await json(['audit', 'list', '--action', 'api.updated']);
    assert.equal(changes.events.at(-1).details.before.public, true);
    assert.equal(changes.events.at(-1).details.after.public, false);
  });
});
