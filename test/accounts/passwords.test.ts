// Password rules (NIST SP 800-63B) and Argon2id storage: normalisation, blocklists with reasons,
// pepper, and the upgrade of hashes made with weaker parameters at the next sign-in.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import argon2 from 'argon2';
import { createAccounts } from '../../src/accounts/accounts.ts';
import { createAuthenticator } from '../../src/accounts/authenticate.ts';
import { checkPassword } from '../../src/accounts/passwordPolicy.ts';
import { createPasswordHasher, OWASP_ARGON2 } from '../../src/accounts/passwords.ts';
import { createAccountStore } from '../../src/accounts/store.ts';
import { createThrottleStore } from '../../src/accounts/throttleStore.ts';
import { systemClock } from '../../src/clock.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const alice = { email: 'alice.liddell@example.com', name: 'Alice Liddell' };
const rejects = (password: string, message: string) =>
  assert.throws(() => checkPassword(password, alice), {
    code: 'invalid_input',
    field: 'password',
    message,
  });

describe('password policy', () => {
  test('8 to 256 characters, counted in code points after NFKC, no composition rules', () => {
    rejects('Xq7!pZ2', 'Use at least 8 characters.');
    rejects(`${'ab3$'.repeat(64)}x`, 'Use at most 256 characters.');
    // 8 emoji are 8 characters (16 UTF-16 units), and this long passphrase of lowercase words is fine.
    checkPassword('🦊🐙🦉🐝🦩🐢🦔🐳', alice);
    checkPassword('violet tractor whispers under the marmalade moon', alice);
    checkPassword(
      `${'a'.repeat(40).replace(/a/g, (_, i: number) => 'qwzxmnbvlk'[i % 10]!)}9`,
      alice,
    );
    // Full-width letters are normalised (NFKC) before counting and hashing: ｐａｓｓｗｏｒｄ is "password".
    rejects(
      'ｐａｓｓｗｏｒｄ',
      'This is a heavily used password. Add more words that are less common.',
    );
  });

  test('common and easily guessed passwords are refused with the reason', () => {
    rejects('password1', 'This is a commonly used password. Add more words that are less common.');
    rejects(
      'qwertyuiop',
      'This is a frequently used password. Add more words that are less common.',
    );
    rejects(
      'aaaaaaaaaaaa',
      'Repeated characters like "aaa" are easy to guess. Add more words that are less common.',
    );
  });

  test("the person's own email and name are refused", () => {
    rejects('alice.liddell-2024', 'Do not use your name or email address in your password.');
    rejects('Wonderland Liddell 77', 'Do not use your name or email address in your password.');
  });

  test('long passwords are not truncated', async () => {
    const hasher = createPasswordHasher({
      params: { memoryCost: 8192, timeCost: 1, parallelism: 1 },
    });
    const long = `${'x7#Kq'.repeat(40)}tail-A`;
    const hash = await hasher.hash(long);
    assert.equal(await hasher.verify(hash, long), true);
    assert.equal(await hasher.verify(hash, `${'x7#Kq'.repeat(40)}tail-B`), false);
  });
});

describe('Argon2id storage', () => {
  let db: TestDatabase;
  const stores = () => ({
    store: createAccountStore(db.knex),
    throttle: createThrottleStore(db.knex),
  });
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.drop());

  test('hashes use Argon2id with the OWASP parameters by default, salted', async () => {
    const hasher = createPasswordHasher({ params: OWASP_ARGON2 });
    const [a, b] = await Promise.all([
      hasher.hash('same password 123'),
      hasher.hash('same password 123'),
    ]);
    assert.match(a, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    assert.notEqual(a, b);
  });

  test('a pepper is required to verify what was hashed with it', async () => {
    const peppered = createPasswordHasher({
      params: OWASP_ARGON2,
      pepper: 'a-secret-kept-outside-the-db',
    });
    const plain = createPasswordHasher({ params: OWASP_ARGON2 });
    const hash = await peppered.hash('mellow yellow kettle');
    assert.equal(await peppered.verify(hash, 'mellow yellow kettle'), true);
    assert.equal(await plain.verify(hash, 'mellow yellow kettle'), false);
  });

  test('a hash made with weaker parameters is upgraded at the next successful sign-in', async () => {
    const weak = createPasswordHasher({
      params: { memoryCost: 8192, timeCost: 1, parallelism: 1 },
    });
    const strong = createPasswordHasher({ params: OWASP_ARGON2 });
    const accounts = createAccounts({ ...stores(), clock: systemClock, hasher: weak });
    await accounts.create({
      email: 'bob@example.com',
      name: 'Bob',
      password: 'rhubarb custard lighthouse',
    });
    const before = await db.knex('users').where({ email: 'bob@example.com' }).first();
    assert.match(before.password_hash, /m=8192,p=1,t=1/);

    const authenticator = createAuthenticator({
      ...stores(),
      clock: systemClock,
      hasher: strong,
      policy: {
        lockout: { threshold: 5, baseSeconds: 60, maxSeconds: 3600 },
        ipFailureLimit: 100,
        ipPendingLimit: 200,
        ipWindowSeconds: 900,
      },
    });
    const result = await authenticator.withPassword({
      email: 'bob@example.com',
      password: 'rhubarb custard lighthouse',
      ip: '203.0.113.1',
    });
    assert.equal(result.ok, true);
    const after = await db.knex('users').where({ email: 'bob@example.com' }).first();
    assert.match(after.password_hash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    assert.equal(await argon2.verify(after.password_hash, 'rhubarb custard lighthouse'), true);
  });

  test('creating a user with a refused password writes nothing', async () => {
    const accounts = createAccounts({
      ...stores(),
      clock: systemClock,
      hasher: createPasswordHasher({ params: OWASP_ARGON2 }),
    });
    const count = async () => Number((await db.knex('users').count('* as n').first())!.n);
    const before = await count();
    await assert.rejects(accounts.create({ email: 'carol@example.com', password: 'password1' }), {
      code: 'invalid_input',
      message: 'This is a commonly used password. Add more words that are less common.',
    });
    await assert.rejects(
      accounts.create({ email: 'BOB@example.com', password: 'entirely different words 9' }),
      {
        code: 'conflict',
        message: 'a user with this email address already exists',
      },
    );
    await assert.rejects(
      accounts.create({ email: 'not-an-email', password: 'entirely different words 9' }),
      {
        code: 'invalid_input',
        message: 'enter a valid email address',
      },
    );
    assert.equal(await count(), before);
  });
});
