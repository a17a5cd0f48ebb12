// Importing people with existing Argon2id hashes and known TOTP seeds (a move from another
// server): they sign in with their password and code; a bad entry imports nobody.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateSync } from 'otplib';
import { normalizePassword } from '../../src/accounts/passwordPolicy.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const PASSWORD = 'lantern-quartz-harbour-77';
const SEED = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

describe('importing people', () => {
  let server: TestServer;
  let hash: string;
  const users = () =>
    server.db
      .knex('users')
      .count('* as n')
      .first()
      .then((r) => Number(r!.n));
  const apps = () =>
    server.db
      .knex('totp_authenticators')
      .count('* as n')
      .first()
      .then((r) => Number(r!.n));

  before(async () => {
    server = await startTestServer();
    const { catalogue, roles, hasher } = server.app.services;
    await catalogue.create({
      identifier: 'https://ledger.example',
      name: 'Ledger',
      scopes: [{ name: 'ledger:read', description: 'Read the ledger' }],
    });
    await roles.create({ name: 'reader', scopes: ['ledger:read'] });
    hash = await hasher.hash(normalizePassword(PASSWORD));
  });
  after(() => server.close());

  test('imported people sign in with their password and get their roles', async () => {
    const { accounts, authenticator } = server.app.services;
    const imported = await accounts.importUsers(
      [
        { email: 'Ann@Example.com', name: 'Ann', passwordHash: hash },
        { email: 'bo@example.com', passwordHash: hash },
      ],
      ['reader'],
    );
    assert.deepEqual(
      imported.map((u) => u.email),
      ['Ann@Example.com', 'bo@example.com'],
    );
    const signedIn = await authenticator.withPassword({
      email: 'ann@example.com',
      password: PASSWORD,
      ip: '192.0.2.1',
    });
    assert.equal(signedIn.ok, true);
    const wrong = await authenticator.withPassword({
      email: 'bo@example.com',
      password: 'not the password',
      ip: '192.0.2.1',
    });
    assert.deepEqual(
      { ok: wrong.ok, reason: (wrong as { reason?: string }).reason },
      { ok: false, reason: 'wrong_password' },
    );
    const ann = await accounts.withScopes(imported[0]!.id);
    assert.deepEqual(ann?.user.roles, ['reader']);
    assert.deepEqual(ann?.scopes, { 'https://ledger.example': ['ledger:read'] });
  });

  test('an entry that is not an Argon2id hash imports nobody', async () => {
    const before = await users();
    await assert.rejects(
      server.app.services.accounts.importUsers([
        { email: 'cy@example.com', passwordHash: hash },
        {
          email: 'di@example.com',
          passwordHash: '$2b$12$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNO',
        },
      ]),
      {
        code: 'invalid_input',
        field: 'passwordHash',
        message: 'person 2: the password hash is not an Argon2id hash',
      },
    );
    assert.equal(await users(), before);
  });

  test('an email already taken, or twice in the import, imports nobody', async () => {
    const { accounts } = server.app.services;
    const before = await users();
    await assert.rejects(
      accounts.importUsers([
        { email: 'eve@example.com', passwordHash: hash },
        { email: 'ANN@example.com', passwordHash: hash },
      ]),
      {
        code: 'conflict',
        field: 'email',
        message: 'a user with one of these email addresses already exists',
      },
    );
    await assert.rejects(
      accounts.importUsers([
        { email: 'fay@example.com', passwordHash: hash },
        { email: 'FAY@example.com', passwordHash: hash },
      ]),
      { code: 'conflict', field: 'email', message: 'FAY@example.com appears twice in the import' },
    );
    assert.equal(await users(), before);
  });

  test('imported TOTP seeds work once per time step; a bad seed or a second app imports none', async () => {
    const { accounts, totp } = server.app.services;
    const [gus, hal] = await accounts.importUsers([
      { email: 'gus@example.com', passwordHash: hash },
      { email: 'hal@example.com', passwordHash: hash },
    ]);
    assert.equal(await totp.importConfirmed([{ userId: gus!.id, secret: SEED }]), 1);
    const code = generateSync({ secret: SEED, epoch: Math.floor(Date.now() / 1000) });
    assert.equal(await totp.verify(gus!.id, code), 'ok');
    assert.equal(await totp.verify(gus!.id, code), 'replayed');
    // The seed is stored sealed, never as given.
    const stored = await server.db.knex('totp_authenticators').where({ user_id: gus!.id }).first();
    assert.ok(!JSON.stringify(stored).includes(SEED));

    const before = await apps();
    await assert.rejects(
      totp.importConfirmed([
        { userId: hal!.id, secret: SEED },
        { userId: hal!.id, secret: 'not-base32!' },
      ]),
      {
        code: 'invalid_input',
        field: 'secret',
        message: 'entry 2: a seed is 16 or more base32 characters',
      },
    );
    await assert.rejects(
      totp.importConfirmed([
        { userId: hal!.id, secret: SEED },
        { userId: gus!.id, secret: SEED },
      ]),
      {
        code: 'conflict',
        field: 'userId',
        message: 'one of these people already has an authenticator app',
      },
    );
    assert.equal(await apps(), before);
    assert.equal(await totp.has(hal!.id), false);
  });

  test('a seed for someone who does not exist imports none', async () => {
    const { accounts, totp } = server.app.services;
    const [ivy] = await accounts.importUsers([{ email: 'ivy@example.com', passwordHash: hash }]);
    const before = await apps();
    await assert.rejects(
      totp.importConfirmed([
        { userId: ivy!.id, secret: SEED },
        { userId: '00000000-0000-4000-8000-000000000000', secret: SEED },
      ]),
      { code: 'invalid_input', field: 'userId', message: 'one of these people does not exist' },
    );
    assert.equal(await apps(), before);
    assert.equal(await totp.has(ivy!.id), false);
  });
});
