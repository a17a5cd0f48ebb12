// `portcullis consent list|show|revoke` as an operator runs them: a real process on a database
// where a person authorised consents (made through the domain directly), one-line errors.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../../src/clock.ts';
import { type Consent, createConsents } from '../../src/consents/consents.ts';
import { createConsentStore } from '../../src/consents/store.ts';
import { connectDatabase } from '../../src/db/connect.ts';
import { PAYMENT } from '../consents/world.ts';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

describe('portcullis consent', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;
  let userId: string;
  let paid: Consent;
  let open: Consent;

  /** Works on the CLI's database in this process (only between CLI runs: embedded is single-user). */
  async function onDatabase<T>(fn: (c: ReturnType<typeof createConsents>) => Promise<T>) {
    const conn = await connectDatabase({ url: env.DATABASE_URL, embeddedDir: env.DATA_DIR });
    try {
      return await fn(
        createConsents({
          store: createConsentStore(conn.knex),
          clock: systemClock,
          paymentTtlSeconds: 600,
        }),
      );
    } finally {
      await conn.close();
    }
  }

  before(async () => {
    ({ env, db } = await cliEnv());
    const created = await runCli(
      ['user', 'create', '--email', 'alice@example.com', '--json'],
      env,
      'correct horse battery staple\ncorrect horse battery staple\n',
    );
    assert.equal(created.code, 0, created.stderr);
    userId = JSON.parse(created.stdout).id;
    [paid, open] = await onDatabase(async (consents) => {
      const made: Consent[] = [];
      for (let i = 0; i < 2; i++) {
        const c = await consents.open({
          clientId: 'budget-planner',
          accountId: userId,
          interactionUid: randomBytes(8).toString('base64url'),
          details: [PAYMENT],
        });
        made.push(await consents.authorise(c.id, { grantId: `g-${c.id}`, accountId: userId }));
      }
      made[0] = await consents.consume(made[0]!.id, 'payment-engine');
      return made as [Consent, Consent];
    });
  });
  after(async () => {
    await db?.drop();
  });

  test('list, filtered by person and status, as a table and as JSON', async () => {
    const table = await runCli(['consent', 'list', '--user', 'alice@example.com'], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+STATUS\s+TYPES\s+CLIENT\s+ACCOUNT/);
    assert.match(table.stdout, new RegExp(`${paid.id}\\s+consumed\\s+payment_initiation`));
    const json = await runCli(['consent', 'list', '--status', 'authorised', '--json'], env);
    const listed = JSON.parse(json.stdout).consents as { id: string; status: string }[];
    assert.deepEqual(
      listed.map((c) => c.id),
      [open.id],
    );
    assertOneLineError(
      await runCli(['consent', 'list', '--status', 'happy'], env),
      '--status must be one of awaiting_authorisation, authorised, rejected, consumed, revoked, expired',
    );
  });

  test('show one; an unknown or malformed id is one line and exit 1', async () => {
    const shown = await runCli(['consent', 'show', open.id, '--json'], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(JSON.parse(shown.stdout).authorizationDetails, [PAYMENT]);
    assertOneLineError(
      await runCli(['consent', 'show', 'cns_AAAAAAAAAAAAAAAAAAAAAA'], env),
      'no consent cns_AAAAAAAAAAAAAAAAAAAAAA',
    );
    assertOneLineError(
      await runCli(['consent', 'show', 'nope'], env),
      '"nope" is not a consent id (cns_ and 22 base64url characters)',
    );
  });

  test('revoke an authorised one (audited); a consumed one is refused and unchanged', async () => {
    const done = await runCli(['consent', 'revoke', open.id], env);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, new RegExp(`^revoked ${open.id} \\(0 tokens and codes`));
    const refused = await runCli(['consent', 'revoke', paid.id], env);
    assertOneLineError(refused, 'the consent is already consumed');
    const [afterOpen, afterPaid] = await onDatabase((c) =>
      Promise.all([c.find(open.id), c.find(paid.id)]),
    );
    assert.equal(afterOpen?.status, 'revoked');
    assert.match(afterOpen?.revokedBy ?? '', /^admin:cli:/);
    assert.deepEqual(afterPaid, paid);
    const audit = await runCli(['audit', 'list', '--action', 'consent.revoked', '--json'], env);
    assert.match(audit.stdout, new RegExp(open.id));
  });
});
