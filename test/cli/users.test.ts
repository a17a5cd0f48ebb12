// `portcullis user …` and `portcullis role …` as a user runs them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertOneLineError, cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';

const BANK = 'https://bank.api.example';
const CARDS = 'https://cards.api.example';

describe('portcullis user and role', () => {
  let db: TestDatabase | undefined;
  let env: Record<string, string>;
  const users = async () =>
    JSON.parse((await runCli(['user', 'list', '--json'], env)).stdout) as {
      users: { email: string; status: string; roles: string[] }[];
      total: number;
    };

  before(async () => {
    ({ env, db } = await cliEnv());
    const api = await runCli(
      [
        'api',
        'create',
        '--identifier',
        'https://bank.api.example',
        '--scope',
        'accounts:read=See your accounts',
        '--scope',
        'payments:write=Pay',
      ],
      env,
    );
    assert.equal(api.code, 0, api.stderr);
  });
  after(async () => {
    await db?.drop();
  });

  test('a role grants API scopes; an unknown scope is refused', async () => {
    const created = await runCli(
      ['role', 'create', '--name', 'customer', '--scope', 'accounts:read', '--json'],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(JSON.parse(created.stdout).scopes, { [BANK]: ['accounts:read'] });
    assertOneLineError(
      await runCli(['role', 'create', '--name', 'bad', '--scope', 'nope:x'], env),
      'scopes: no registered API defines the scope nope:x',
    );
  });

  test('user create reads the password from stdin, never from an argument', async () => {
    const created = await runCli(
      [
        'user',
        'create',
        '--email',
        'Dana@Example.com',
        '--name',
        'Dana',
        '--role',
        'customer',
        '--json',
      ],
      env,
      'lavender harbour compass 42\n',
    );
    assert.equal(created.code, 0, created.stderr);
    const user = JSON.parse(created.stdout);
    assert.equal(user.email, 'Dana@Example.com');
    assert.deepEqual(user.roles, ['customer']);
    assert.ok(!created.stdout.includes('lavender'));
    if (db) {
      const row = await db.knex('users').where({ id: user.id }).first('password_hash');
      assert.match(row.password_hash, /^\$argon2id\$/);
    }
  });

  test('bad input: one line, non-zero exit, nothing written', async () => {
    const before = (await users()).total;
    assertOneLineError(
      await runCli(['user', 'create', '--email', 'eve@example.com'], env, 'password1\n'),
      'password: This is a commonly used password. Add more words that are less common.',
    );
    assertOneLineError(
      await runCli(
        ['user', 'create', '--email', 'dana@example.com'],
        env,
        'another fine passphrase 7\n',
      ),
      'email: a user with this email address already exists',
    );
    assertOneLineError(
      await runCli(['user', 'create', '--email', 'eve@example.com'], env, ''),
      'no password on stdin (pipe it in, or run in a terminal to be asked)',
    );
    assertOneLineError(
      await runCli(
        ['user', 'create', '--email', 'eve@example.com', '--role', 'ghost'],
        env,
        'another fine passphrase 7\n',
      ),
      'roles: no role named ghost',
    );
    assert.equal((await users()).total, before);
  });

  test('lock, unlock, disable, set-password, role grant and revoke', async () => {
    assert.match(
      (await runCli(['user', 'lock', 'dana@example.com'], env)).stdout,
      /Dana@Example.com is now locked/,
    );
    assert.equal(
      (await users()).users.find((u) => u.email === 'Dana@Example.com')?.status,
      'locked',
    );
    assert.match(
      (await runCli(['user', 'unlock', 'dana@example.com'], env)).stdout,
      /is now active/,
    );
    assert.match(
      (await runCli(['user', 'disable', 'dana@example.com'], env)).stdout,
      /is now disabled/,
    );
    assert.equal(
      (
        await runCli(
          ['user', 'set-password', 'dana@example.com'],
          env,
          'brand new tangerine skies\n',
        )
      ).code,
      0,
    );
    assertOneLineError(
      await runCli(
        ['user', 'set-password', 'ghost@example.com'],
        env,
        'brand new tangerine skies\n',
      ),
      'no user ghost@example.com',
    );
    await runCli(['role', 'create', '--name', 'payer', '--scope', 'payments:write'], env);
    assert.match(
      (await runCli(['role', 'grant', '--user', 'dana@example.com', '--role', 'payer'], env))
        .stdout,
      /now has the role payer/,
    );
    const show = JSON.parse(
      (await runCli(['user', 'show', 'dana@example.com', '--json'], env)).stdout,
    );
    assert.deepEqual(show.roles.sort(), ['customer', 'payer']);
    assert.equal(show.failedSignIns, 0);
    assert.match(
      (await runCli(['role', 'revoke', '--user', 'dana@example.com', '--role', 'payer'], env))
        .stdout,
      /no longer has the role payer/,
    );
    // Who changed which role, before and after, is in the audit log.
    const granted = JSON.parse(
      (await runCli(['audit', 'list', '--action', 'role.granted', '--json'], env)).stdout,
    );
    const event = (granted.events ?? granted)[0];
    assert.equal(event.actor.type, 'admin');
    assert.match(event.actor.id, /^cli:/);
    assert.deepEqual(event.details.before, ['customer']);
    assert.deepEqual(event.details.after.sort(), ['customer', 'payer']);
    const roles = JSON.parse((await runCli(['role', 'list', '--json'], env)).stdout);
    assert.deepEqual(
      roles.map((r: { name: string; members: number }) => [r.name, r.members]),
      [
        ['customer', 1],
        ['payer', 0],
      ],
    );
  });

  test("a scope two APIs define is named 'URI scope'; a bare name is refused naming both APIs", async () => {
    const api = await runCli(
      ['api', 'create', '--identifier', CARDS, '--scope', 'payments:write=Pay by card'],
      env,
    );
    assert.equal(api.code, 0, api.stderr);
    const before = JSON.parse((await runCli(['role', 'list', '--json'], env)).stdout);
    assertOneLineError(
      await runCli(['role', 'create', '--name', 'card-payer', '--scope', 'payments:write'], env),
      `scopes: several APIs define the scope payments:write (${BANK}, ${CARDS}): name the API with it`,
    );
    assertOneLineError(
      await runCli(
        ['role', 'create', '--name', 'card-payer', '--scope', 'https://nope.example read'],
        env,
      ),
      'scopes: no API with identifier https://nope.example is registered',
    );
    assertOneLineError(
      await runCli(
        ['role', 'create', '--name', 'card-payer', '--scope', `${CARDS} accounts:read`],
        env,
      ),
      `scopes: the API ${CARDS} does not define the scope accounts:read`,
    );
    assert.deepEqual(
      JSON.parse((await runCli(['role', 'list', '--json'], env)).stdout),
      before,
      'nothing written',
    );

    const created = await runCli(
      [
        'role',
        'create',
        '--name',
        'card-payer',
        '--scope',
        `${CARDS} payments:write`,
        '--scope',
        'accounts:read',
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    assert.equal(
      created.stdout,
      `created role card-payer: ${BANK}: accounts:read; ${CARDS}: payments:write\n`,
    );
    const shown = await runCli(['role', 'show', 'card-payer', '--json'], env);
    assert.deepEqual(JSON.parse(shown.stdout), {
      id: JSON.parse(shown.stdout).id,
      name: 'card-payer',
      description: '',
      scopes: { [BANK]: ['accounts:read'], [CARDS]: ['payments:write'] },
      members: 0,
    });
    const human = await runCli(['role', 'show', 'card-payer'], env);
    assert.match(human.stdout, new RegExp(`^  ${CARDS}  payments:write$`, 'm'));
    assertOneLineError(await runCli(['role', 'show', 'ghost'], env), 'no role named ghost');
  });
});
