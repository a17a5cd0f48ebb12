// The start of a password attempt is one statement (address point, account lookup, lockout
// claim): each outcome keeps what it had as three statements, and a refused address claims nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAccounts } from '../../src/accounts/accounts.ts';
import { createAuthenticator, type ThrottlePolicy } from '../../src/accounts/authenticate.ts';
import { createPasswordHasher } from '../../src/accounts/passwords.ts';
import { createAccountStore, type UserRow } from '../../src/accounts/store.ts';
import { createThrottleStore } from '../../src/accounts/throttleStore.ts';
import { manualClock } from '../../src/clock.ts';
import { runTogether } from '../../src/db/together.ts';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from '../support/db.ts';

const PASSWORD = 'lantern quartz harbour 77';
const policy = (over: Partial<ThrottlePolicy> = {}): ThrottlePolicy => ({
  lockout: { threshold: 5, baseSeconds: 60, maxSeconds: 3600 },
  ipFailureLimit: 100,
  ipPendingLimit: 100,
  ipWindowSeconds: 900,
  ...over,
});
let ipCounter = 0;
const newAddress = () => `203.0.113.${++ipCounter}`;

describe('starting a password attempt', () => {
  const clock = manualClock();
  // Cheap parameters: these tests are about counters, not hashing.
  const hasher = createPasswordHasher({
    params: { memoryCost: 8192, timeCost: 1, parallelism: 1 },
  });
  let db: TestDatabase;
  const stores = () => ({
    store: createAccountStore(db.knex),
    throttle: createThrottleStore(db.knex),
  });
  const authenticator = (over: Partial<ThrottlePolicy> = {}) =>
    createAuthenticator({ ...stores(), clock, hasher, policy: policy(over) });
  const idOf = async (email: string) =>
    ((await db.knex('users').where({ email }).first()) as UserRow).id;
  const lockout = async (email: string) =>
    db
      .knex('account_lockouts')
      .where({ user_id: await idOf(email) })
      .first();
  const points = async (key: string) =>
    ((await db.knex('rate_limits').where({ key }).first()) as { points: number } | undefined)
      ?.points ?? 0;

  before(async () => {
    db = await createTestDatabase();
    const accounts = createAccounts({ ...stores(), clock, hasher });
    for (const email of [
      'alice@example.com',
      'limited@example.com',
      'busy@example.com',
      'disabled@example.com',
      'held@example.com',
      'nopassword@example.com',
      'crowd@example.com',
      'settle@example.com',
    ])
      await accounts.create({ email, password: PASSWORD });
    await accounts.disable('disabled@example.com');
    await accounts.lock('held@example.com');
    await db
      .knex('users')
      .where({ email: 'nopassword@example.com' })
      .update({ password_hash: null });
  });
  after(() => db.drop());

  test('an address over its failures is refused: no lockout claim, no account, point given back', async () => {
    const ip = newAddress();
    const auth = authenticator({ ipFailureLimit: 2 });
    for (const email of ['ghost1@example.com', 'ghost2@example.com'])
      assert.equal((await auth.checkPassword({ email, password: 'x', ip })).ok, false);
    const refused = await auth.checkPassword({
      email: 'limited@example.com',
      password: PASSWORD,
      ip,
    });
    assert.deepEqual(
      { ...refused, retryAfterSeconds: undefined },
      { ok: false, reason: 'rate_limited', retryAfterSeconds: undefined, pending: false },
    );
    assert.equal(await lockout('limited@example.com'), undefined, 'nothing in account_lockouts');
    assert.equal(await points(`signin-pending:${ip}`), 0, 'the pending point came back');
    assert.equal(await points(`signin-ip:${ip}`), 2, 'a refusal is not a failure');

    // The store's own answer: the account is not read into a refused attempt.
    const throttle = createThrottleStore(db.knex);
    const attempt = await throttle.beginPasswordAttempt<UserRow>({
      pendingKey: `signin-pending:${ip}`,
      failureKey: `signin-ip:${ip}`,
      now: new Date(clock.now()),
      windowSeconds: 900,
      failureLimit: 2,
      pendingLimit: 100,
      lockout: policy().lockout,
      account: createAccountStore(db.knex).passwordSignInPart('limited@example.com'),
    });
    assert.deepEqual(
      { refused: attempt.refused, account: attempt.account, claim: attempt.claim },
      { refused: true, account: undefined, claim: undefined },
    );
    await throttle.refund(`signin-pending:${ip}`);
  });

  test('an address with too many attempts pending is refused and claims nothing', async () => {
    const ip = newAddress();
    // One attempt from this address is still being checked.
    await createThrottleStore(db.knex).consume(`signin-pending:${ip}`, new Date(clock.now()), 900);
    const refused = await authenticator({ ipPendingLimit: 1 }).checkPassword({
      email: 'busy@example.com',
      password: PASSWORD,
      ip,
    });
    assert.deepEqual(refused, {
      ok: false,
      reason: 'rate_limited',
      retryAfterSeconds: 1,
      pending: true,
    });
    assert.equal(await lockout('busy@example.com'), undefined);
    assert.equal(await points(`signin-pending:${ip}`), 1, 'only the other attempt is pending');
  });

  test('unknown, disabled, held and passwordless accounts claim nothing; each is a failure of the address', async () => {
    const ip = newAddress();
    const auth = authenticator();
    const reasons = [];
    for (const email of [
      'nobody@example.com',
      'disabled@example.com',
      'held@example.com',
      'nopassword@example.com',
    ]) {
      const result = await auth.checkPassword({ email, password: PASSWORD, ip });
      assert.equal(result.ok, false);
      reasons.push(!result.ok && result.reason);
      if (email !== 'nobody@example.com') assert.equal(await lockout(email), undefined, email);
    }
    assert.deepEqual(reasons, [
      'unknown_account',
      'account_disabled',
      'account_locked',
      'no_password',
    ]);
    assert.equal(
      await db
        .knex('account_lockouts')
        .count('* as n')
        .first()
        .then((r) => Number(r!.n)),
      0,
    );
    assert.equal(await points(`signin-ip:${ip}`), 4);
    assert.equal(await points(`signin-pending:${ip}`), 0);
  });

  test('the account is found in any case and claimed in the one statement before Argon2', async () => {
    const ip = newAddress();
    const auth = authenticator();
    const before = db.counter.statements;
    const wrong = await auth.checkPassword({ email: ' ALICE@Example.com ', password: 'nope', ip });
    const used = db.counter.statements - before;
    assert.deepEqual(
      { ok: wrong.ok, reason: !wrong.ok && wrong.reason },
      { ok: false, reason: 'wrong_password' },
    );
    assert.equal((await lockout('alice@example.com')).failures, 1, 'claimed');
    // The attempt's statement, then the failure of its address (PostgreSQL counts them).
    if (testDatabaseKind() === 'postgres') assert.equal(used, 2);

    const right = await auth.checkPassword({ email: 'alice@example.com', password: PASSWORD, ip });
    assert.equal(right.ok, true);
    assert.equal(
      (await lockout('alice@example.com')).failures,
      2,
      'cleared only by the next write',
    );
  });

  test('while the lockout is on, even the right password claims nothing and fails as locked', async () => {
    const ip = newAddress();
    const auth = authenticator();
    await db
      .knex('account_lockouts')
      .where({ user_id: await idOf('alice@example.com') })
      .delete();
    for (let i = 0; i < 5; i++)
      await auth.checkPassword({ email: 'alice@example.com', password: `wrong ${i}`, ip });
    const locked = await lockout('alice@example.com');
    assert.equal(locked.failures, 5);
    const during = await auth.checkPassword({ email: 'alice@example.com', password: PASSWORD, ip });
    assert.deepEqual(
      { ok: during.ok, reason: !during.ok && during.reason },
      { ok: false, reason: 'account_locked' },
    );
    assert.deepEqual(await lockout('alice@example.com'), locked, 'unchanged');
  });

  test('settling a right password locks the pending counter before the lockout row, as an attempt does', {
    skip: testDatabaseKind() === 'embedded' && 'row locks need two sessions (PostgreSQL)',
  }, async () => {
    // An attempt locks its address's pending counter, then the account's lockout row. Were the
    // statement that settles a right password (login.ts: the count cleared, the pending point given
    // back, in that order of parts) to lock them the other way round, the two could deadlock.
    const ip = newAddress();
    const auth = authenticator();
    const userId = await idOf('settle@example.com');
    const right = await auth.checkPassword({ email: 'settle@example.com', password: PASSWORD, ip });
    assert.ok(right.ok);
    const holder = await db.knex.transaction();
    await holder.raw('select 1 from rate_limits where key = ? for update', [
      `signin-pending:${ip}`,
    ]);
    const settling = runTogether(db.knex, [right.clearFailures, auth.passwordCompletesPart(ip)]);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The settling statement waits on the pending counter without holding the lockout row.
      const probe = await db.knex.transaction();
      try {
        await probe.raw('select 1 from account_lockouts where user_id = ? for update nowait', [
          userId,
        ]);
      } finally {
        await probe.rollback();
      }
    } finally {
      await holder.commit();
      await settling;
    }
    assert.equal((await lockout('settle@example.com')).failures, 0);
  });

  test('parallel attempts from one address: each checked one is claimed, no refused one is', async () => {
    const ip = newAddress();
    // A slower hash keeps the checked attempts pending while the others arrive.
    const auth = createAuthenticator({
      ...stores(),
      clock,
      hasher: createPasswordHasher({ params: { memoryCost: 19456, timeCost: 2, parallelism: 1 } }),
      policy: policy({
        ipPendingLimit: 3,
        lockout: { threshold: 1000, baseSeconds: 60, maxSeconds: 60 },
      }),
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        auth.checkPassword({ email: 'crowd@example.com', password: `guess ${n}`, ip }),
      ),
    );
    const reasons = results.map((r) => !r.ok && r.reason);
    const checked = reasons.filter((r) => r === 'wrong_password').length;
    const refused = reasons.filter((r) => r === 'rate_limited').length;
    assert.equal(checked + refused, 20, reasons.join(' '));
    assert.ok(checked >= 3 && refused > 0, `${checked} checked, ${refused} refused`);
    assert.equal((await lockout('crowd@example.com')).failures, checked);
    assert.equal(await points(`signin-ip:${ip}`), checked);
    assert.equal(await points(`signin-pending:${ip}`), 0);
  });
});
