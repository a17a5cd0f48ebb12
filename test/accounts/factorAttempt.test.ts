// A second-factor attempt's address point, lockout claim and the read of the factor to check are
// one statement: a refused or locked attempt claims nothing more and reads nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createAccounts } from '../../src/accounts/accounts.ts';
import { createAuthenticator, type ThrottlePolicy } from '../../src/accounts/authenticate.ts';
import { createPasswordHasher } from '../../src/accounts/passwords.ts';
import { createAccountStore } from '../../src/accounts/store.ts';
import { createThrottleStore } from '../../src/accounts/throttleStore.ts';
import { manualClock } from '../../src/clock.ts';
import { createMfaStore, type TotpRow } from '../../src/mfa/store.ts';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from '../support/db.ts';

const policy: ThrottlePolicy = {
  lockout: { threshold: 3, baseSeconds: 60, maxSeconds: 3600 },
  ipFailureLimit: 2,
  ipPendingLimit: 100,
  ipWindowSeconds: 900,
};
let ipCounter = 0;
const newAddress = () => `198.51.100.${++ipCounter}`;

describe('starting a second-factor attempt', () => {
  const clock = manualClock();
  const hasher = createPasswordHasher({
    params: { memoryCost: 8192, timeCost: 1, parallelism: 1 },
  });
  let db: TestDatabase;
  let auth: ReturnType<typeof createAuthenticator>;
  let mfa: ReturnType<typeof createMfaStore>;
  const people: Record<string, string> = {};
  const lockout = (userId: string) =>
    db.knex('account_lockouts').where({ user_id: userId }).first();

  before(async () => {
    db = await createTestDatabase();
    const stores = { store: createAccountStore(db.knex), throttle: createThrottleStore(db.knex) };
    const accounts = createAccounts({ ...stores, clock, hasher });
    for (const name of ['ann', 'ben', 'cas', 'dee', 'eve'])
      people[name] = (
        await accounts.create({
          email: `${name}@example.com`,
          password: 'lantern quartz harbour 77',
        })
      ).id;
    mfa = createMfaStore(db.knex);
    const now = new Date(clock.now());
    await mfa.insertConfirmedTotps(
      ['ann', 'ben', 'cas'].map((name) => ({
        id: randomUUID(),
        user_id: people[name]!,
        secret_sealed: `sealed seed of ${name}`,
        last_used_step: null,
        created_at: now,
        confirmed_at: now,
      })),
    );
    auth = createAuthenticator({ ...stores, clock, hasher, policy });
  });
  after(() => db.drop());

  test('an attempt within the limits is claimed and reads its factor, in one statement', async () => {
    const before = db.counter.statements;
    const attempt = await auth.claimFactorAttempt<TotpRow>(
      people.ann!,
      newAddress(),
      mfa.confirmedTotpPart(people.ann!),
    );
    if (testDatabaseKind() === 'postgres') assert.equal(db.counter.statements - before, 1);
    assert.equal(attempt.ok, true);
    assert.equal(attempt.ok && attempt.read?.secret_sealed, 'sealed seed of ann');
    assert.equal(attempt.ok && attempt.read?.user_id, people.ann);
    assert.equal((await lockout(people.ann!)).second_factor_failures, 1);
    assert.equal((await lockout(people.ann!)).failures, 0, 'the password count is not touched');

    // Someone without an authenticator: claimed all the same, nothing read.
    const none = await auth.claimFactorAttempt<TotpRow>(
      people.dee!,
      newAddress(),
      mfa.confirmedTotpPart(people.dee!),
    );
    assert.deepEqual(none, { ok: true, lockedUntil: null, read: undefined });
  });

  test('over the address limit: refused, the point spent, no claim, nothing read', async () => {
    const ip = newAddress();
    for (let n = 0; n < 2; n++)
      assert.equal((await auth.claimFactorAttempt(people.eve!, ip)).ok, true);
    const refused = await auth.claimFactorAttempt<TotpRow>(
      people.ben!,
      ip,
      mfa.confirmedTotpPart(people.ben!),
    );
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.reason, 'rate_limited');
    assert.equal('read' in refused, false);
    assert.equal(await lockout(people.ben!), undefined, 'nothing in account_lockouts');
    const { points } = await db
      .knex('rate_limits')
      .where({ key: `signin-ip:${ip}` })
      .first();
    assert.equal(points, 3, 'a refused attempt still spends its point, as before');
  });

  test('while second factors are locked: no claim, nothing read', async () => {
    const claims = [];
    for (let n = 0; n < 3; n++)
      claims.push(await auth.claimFactorAttempt(people.cas!, newAddress()));
    assert.ok(claims.every((c) => c.ok));
    const lockedUntil = (await lockout(people.cas!)).second_factor_locked_until;
    assert.equal(lockedUntil?.getTime(), clock.now() + 60_000);
    const locked = await auth.claimFactorAttempt<TotpRow>(
      people.cas!,
      newAddress(),
      mfa.confirmedTotpPart(people.cas!),
    );
    assert.deepEqual(locked, { ok: false, reason: 'account_locked' });
    assert.equal((await lockout(people.cas!)).second_factor_failures, 3, 'not counted');

    clock.advance(61_000);
    const after = await auth.claimFactorAttempt<TotpRow>(
      people.cas!,
      newAddress(),
      mfa.confirmedTotpPart(people.cas!),
    );
    assert.equal(after.ok && after.read?.secret_sealed, 'sealed seed of cas');
    assert.equal(
      after.ok && after.lockedUntil?.getTime(),
      clock.now() + 120_000,
      'locked again, twice as long',
    );
  });
});
