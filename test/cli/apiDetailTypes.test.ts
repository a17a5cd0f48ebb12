// `portcullis api create|update --detail-type --consent-scope`: the authorization detail types an
// API accepts, shown by list and show (and --json), audited; bad ones refused with one line, a
// non-zero exit and nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

const PAYMENTS = 'https://payments.api.example';
const ACCOUNTS = 'https://accounts.api.example';

describe('portcullis api: detail types and consent scope', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;

  const cli = async (args: string[]) => {
    const result = await runCli(args, env);
    assert.equal(result.code, 0, result.stderr);
    return result;
  };
  const json = async (args: string[]) => JSON.parse((await cli([...args, '--json'])).stdout);
  const auditCount = async () =>
    (await json(['audit', 'list', '--limit', '500'])).events.length as number;

  before(async () => {
    ({ env, db } = await cliEnv());
  });
  after(async () => {
    await db?.drop();
  });

  test('--help names the options', async () => {
    assert.match((await cli(['api', 'create', '--help'])).stdout, /--detail-type <type>/);
    const update = (await cli(['api', 'update', '--help'])).stdout;
    assert.match(update, /--consent-scope <scope>/);
    assert.match(update, /--no-detail-types/);
  });

  test('api create --detail-type --consent-scope; list, show, --json; audited', async () => {
    const created = await json([
      'api',
      'create',
      '--identifier',
      PAYMENTS,
      '--scope',
      'payments:write=Make payments',
      '--scope',
      'payments:execute=Execute consented payments',
      '--detail-type',
      'payment_initiation',
      '--consent-scope',
      'payments:execute',
    ]);
    assert.deepEqual(created.detailTypes, ['payment_initiation']);
    assert.equal(created.consentScope, 'payments:execute');
    const row = (await cli(['api', 'list'])).stdout.split('\n').find((l) => l.startsWith(PAYMENTS));
    assert.match(row ?? '', /payment_initiation$/);
    const shown = (await cli(['api', 'show', '--identifier', PAYMENTS])).stdout;
    assert.match(shown, /^detail types\s+payment_initiation$/m);
    assert.match(shown, /^consent scope\s+payments:execute$/m);
    const event = (await json(['audit', 'list', '--action', 'api.created'])).events.at(-1);
    assert.deepEqual(event.target, { type: 'api', id: PAYMENTS });
    assert.deepEqual(event.details.detailTypes, ['payment_initiation']);
    assert.equal(event.details.consentScope, 'payments:execute');
  });

  test('api update sets and clears them; audited with before and after', async () => {
    await cli(['api', 'create', '--identifier', ACCOUNTS, '--scope', 'accounts:read=See accounts']);
    const none = await json(['api', 'show', '--identifier', ACCOUNTS]);
    assert.deepEqual([none.detailTypes, none.consentScope], [[], null]);
    const updated = await json([
      'api',
      'update',
      '--identifier',
      ACCOUNTS,
      '--detail-type',
      'account_information',
      '--consent-scope',
      'accounts:read',
    ]);
    assert.deepEqual(updated.detailTypes, ['account_information']);
    assert.equal(updated.consentScope, 'accounts:read');
    const event = (await json(['audit', 'list', '--action', 'api.updated'])).events.at(-1);
    assert.deepEqual(event.details.before.detailTypes, []);
    assert.deepEqual(event.details.after, {
      name: ACCOUNTS,
      format: 'jwt',
      public: false,
      lifetime: 600,
      detailTypes: ['account_information'],
      consentScope: 'accounts:read',
    });
    const cleared = await cli([
      'api',
      'update',
      '--identifier',
      ACCOUNTS,
      '--no-detail-types',
      '--no-consent-scope',
    ]);
    assert.equal(
      cleared.stdout,
      `updated API ${ACCOUNTS}: not public, detail types (none), consent scope (none)\n`,
    );
  });

  test('bad detail types or consent scopes: one line, non-zero exit, nothing written', async () => {
    const apis = await json(['api', 'list']);
    const events = await auditCount();
    const create = (...extra: string[]) =>
      runCli(
        [
          'api',
          'create',
          '--identifier',
          'https://other.api.example',
          '--scope',
          'other:pay=Pay',
          ...extra,
        ],
        env,
      );
    assertOneLineError(
      await create('--detail-type', 'wire', '--consent-scope', 'other:pay'),
      "detailTypes/0: unknown detail type 'wire' (known: payment_initiation, account_information)",
    );
    assertOneLineError(
      await create('--detail-type', 'account_information'),
      'consentScope: an API that declares detail types needs a consent scope: the scope its resource servers carry to read and consume consents',
    );
    assertOneLineError(
      await create('--detail-type', 'account_information', '--consent-scope', 'nope'),
      "consentScope: consent scope 'nope' is not one of the API's scopes",
    );
    assertOneLineError(
      await create('--detail-type', 'payment_initiation', '--consent-scope', 'other:pay'),
      `detailTypes: detail type 'payment_initiation' is already declared by the API ${PAYMENTS}`,
    );
    const update = (...extra: string[]) =>
      runCli(['api', 'update', '--identifier', PAYMENTS, ...extra], env);
    assertOneLineError(
      await update('--no-consent-scope'),
      'consentScope: an API that declares detail types needs a consent scope: the scope its resource servers carry to read and consume consents',
    );
    assertOneLineError(
      await update('--detail-type', 'account_information', '--no-detail-types'),
      '--detail-type and --no-detail-types cannot go together',
    );
    assertOneLineError(await update(), 'nothing to change (see "portcullis api update --help")');
    assertOneLineError(
      await runCli(
        ['api', 'update', '--identifier', 'https://nowhere.example', '--name', 'x'],
        env,
      ),
      'no API with identifier https://nowhere.example (see "portcullis api list")',
    );
    assert.deepEqual(await json(['api', 'list']), apis, 'no API created or changed');
    assert.equal(await auditCount(), events, 'nothing recorded');
  });
});
