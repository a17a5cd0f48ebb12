// The CLI ends sessions too: `portcullis user disable` and `user set-password`, run as separate
// processes on the server's database, tell the relying party its session ended (exactly once,
// whichever process sends it). PostgreSQL only: the embedded database is one process's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { testDatabaseKind } from '../support/db.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { testSecrets } from '../support/server.ts';
import { type LogoutWorld, logoutWorld } from './world.ts';

const skip = testDatabaseKind() !== 'postgres' && 'needs PostgreSQL shared by a server and the CLI';

describe('portcullis user disable / set-password and back-channel logout', { skip }, () => {
  const secrets = testSecrets();
  let w: LogoutWorld;
  let env: Record<string, string>;

  before(async () => {
    w = await logoutWorld(secrets);
    env = { ...secrets, DATABASE_URL: w.server.db.url!, ISSUER: w.server.issuer };
  });
  after(async () => {
    await w?.close();
  });

  /** The one logout token the relying party gets, whichever process delivered it. */
  const delivered = async () => {
    await w.server.app.services.logoutOutbox.deliverDue();
    await w.rp.received(1);
    assert.equal(w.rp.tokens.length, 1, 'told once');
    const { payload } = await w.verify(w.rp.tokens.pop()!);
    return payload;
  };

  test('user disable', async () => {
    const session = await w.signIn();
    const run = await runCli(['user', 'disable', 'alice@example.com'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.equal((await delivered()).sid, session.claims.sid);
    assert.equal(
      (await runCli(['user', 'enable', 'alice@example.com'], env)).code,
      0,
      'enabled again',
    );
  });

  test('user set-password', async () => {
    const session = await w.signIn();
    const run = await runCli(['user', 'set-password', 'alice@example.com'], env, `${PASSWORD}\n`);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await delivered()).sid, session.claims.sid);
  });
});
