// The consent lifecycle on a real database: opened once per interaction and details, authorised
// with its grant, consumed atomically (once, the same caller again idempotent), rejected, revoked,
// expired by the injected clock, and listed with filters.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../../src/clock.ts';
import { canonicalHash } from '../../src/consents/canonical.ts';
import { ConsentStateError, createConsents } from '../../src/consents/consents.ts';
import type { AuthorizationDetail } from '../../src/consents/detailTypes.ts';
import { createConsentStore } from '../../src/consents/store.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const START = Date.parse('2026-12-01T12:00:00Z');
const TTL = 600;

const payment = (amount = '1250.00'): AuthorizationDetail => ({
  type: 'payment_initiation',
  instructedAmount: { currency: 'EUR', amount },
  creditorName: 'ACME GmbH',
  creditorAccount: { iban: 'DE89370400440532013000' },
});
const accountAccess = (until = '2026-12-31T00:00:00Z'): AuthorizationDetail => ({
  type: 'account_information',
  accounts: 'all',
  access: ['balances', 'transactions'],
  expirationDateTime: until,
});

describe('consents lifecycle', () => {
  let db: TestDatabase;
  const clock = manualClock(START);
  let consents: ReturnType<typeof createConsents>;
  let seq = 0;
  const uid = () => `interaction-${++seq}`;
  const row = (id: string) => db.knex('consents').where({ id }).first();

  /** An authorised consent of `details` for account `acc`. */
  async function authorised(details: AuthorizationDetail[], acc = 'acc-1', client = 'client-1') {
    const c = await consents.open({
      clientId: client,
      accountId: acc,
      interactionUid: uid(),
      details,
    });
    return consents.authorise(c.id, { grantId: `grant-${c.id}`, accountId: acc });
  }

  /** Asserts a ConsentStateError with this status, and that the row did not change. */
  async function refused(id: string, status: string, action: () => Promise<unknown>) {
    const before = await row(id);
    await assert.rejects(action, (err: unknown) => {
      assert.ok(err instanceof ConsentStateError, String(err));
      assert.equal(err.code, 'conflict');
      assert.equal(err.status, status);
      return true;
    });
    assert.deepEqual(await row(id), before);
  }

  before(async () => {
    db = await createTestDatabase();
    consents = createConsents({
      store: createConsentStore(db.knex),
      clock,
      paymentTtlSeconds: TTL,
    });
  });
  after(() => db.drop());

  test('open: a consent awaiting authorisation, the same one again for the same interaction and details', async () => {
    const interactionUid = uid();
    const input = {
      clientId: 'client-1',
      accountId: 'acc-1',
      interactionUid,
      details: [payment()],
    };
    const first = await consents.open(input);
    assert.match(first.id, /^cns_[A-Za-z0-9_-]{22}$/);
    assert.equal(first.status, 'awaiting_authorisation');
    assert.deepEqual(first.details, [payment()]);
    assert.deepEqual(first.types, ['payment_initiation']);
    assert.equal(first.canonicalHash, canonicalHash([payment()]));
    assert.equal(first.grantId, null);
    assert.equal((await consents.open(input)).id, first.id);
    const [a, b] = await Promise.all([consents.open(input), consents.open(input)]);
    assert.equal(a.id, first.id);
    assert.equal(b.id, first.id);
    // Other details in the same interaction: another consent.
    const changed = await consents.open({ ...input, details: [payment('1250.01')] });
    assert.notEqual(changed.id, first.id);
    assert.equal(
      await db
        .knex('consents')
        .where({ interaction_uid: interactionUid })
        .count('* as n')
        .first()
        .then((r) => Number(r?.n)),
      2,
    );
  });

  test('open refuses details that are not valid, writing nothing', async () => {
    const interactionUid = uid();
    await assert.rejects(
      consents.open({
        clientId: 'client-1',
        accountId: 'acc-1',
        interactionUid,
        details: [payment('-1')],
      }),
      { name: 'DetailsError', field: 'authorization_details[0].instructedAmount.amount' },
    );
    assert.equal(
      await db.knex('consents').where({ interaction_uid: interactionUid }).first(),
      undefined,
    );
  });

  test('authorise: sets the grant and a payment expiry of PAYMENT_CONSENT_TTL_SECONDS', async () => {
    const c = await consents.open({
      clientId: 'client-1',
      accountId: 'acc-1',
      interactionUid: uid(),
      details: [payment()],
    });
    const a = await consents.authorise(c.id, { grantId: 'grant-a', accountId: 'acc-1' });
    assert.equal(a.status, 'authorised');
    assert.equal(a.grantId, 'grant-a');
    assert.equal(a.authorisedAt?.getTime(), START);
    assert.equal(a.expiresAt?.getTime(), START + TTL * 1000);
    assert.equal((await consents.findByGrant('grant-a'))?.id, c.id);
    // Again with the same grant: the same consent; with another grant: refused.
    assert.equal(
      (await consents.authorise(c.id, { grantId: 'grant-a', accountId: 'acc-1' })).id,
      c.id,
    );
    await refused(c.id, 'authorised', () =>
      consents.authorise(c.id, { grantId: 'grant-b', accountId: 'acc-1' }),
    );
  });

  test("authorise: another person's consent is not found", async () => {
    const c = await consents.open({
      clientId: 'client-1',
      accountId: 'acc-1',
      interactionUid: uid(),
      details: [payment()],
    });
    const before = await row(c.id);
    await assert.rejects(consents.authorise(c.id, { grantId: 'g-x', accountId: 'acc-2' }), {
      code: 'not_found',
    });
    assert.deepEqual(await row(c.id), before);
  });

  test('account access expires at its earliest expirationDateTime', async () => {
    const a = await authorised([
      accountAccess('2027-01-31T00:00:00Z'),
      accountAccess('2026-12-24T18:00:00Z'),
    ]);
    assert.equal(a.expiresAt?.toISOString(), '2026-12-24T18:00:00.000Z');
  });

  test('consume: once; the same caller again gets the same result; another caller a conflict', async () => {
    const c = await authorised([payment()]);
    const consumed = await consents.consume(c.id, 'rs-1');
    assert.equal(consumed.status, 'consumed');
    assert.equal(consumed.consumedBy, 'rs-1');
    assert.equal(consumed.consumedAt?.getTime(), START);
    clock.advance(1000);
    const again = await consents.consume(c.id, 'rs-1');
    assert.deepEqual(again, consumed);
    await refused(c.id, 'consumed', () => consents.consume(c.id, 'rs-2'));
    clock.set(START);
  });

  test('concurrent consumes: exactly one wins', async () => {
    const c = await authorised([payment()]);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => consents.consume(c.id, `rs-${i}`)),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results)
      if (r.status === 'rejected') {
        assert.ok(r.reason instanceof ConsentStateError);
        assert.equal(r.reason.status, 'consumed');
      }
    const stored = await row(c.id);
    assert.equal(
      stored.consumed_by,
      (won[0] as PromiseFulfilledResult<{ consumedBy: string }>).value.consumedBy,
    );
  });

  test('consume after revocation or expiry is refused with the status', async () => {
    const revoked = await authorised([payment()]);
    await consents.revoke(revoked.id, { type: 'admin', id: 'admin-1' });
    await refused(revoked.id, 'revoked', () => consents.consume(revoked.id, 'rs-1'));

    const late = await authorised([payment()]);
    clock.advance(TTL * 1000);
    assert.equal((await consents.find(late.id))?.status, 'expired');
    await refused(late.id, 'expired', () => consents.consume(late.id, 'rs-1'));
    clock.set(START);
    assert.equal((await consents.find(late.id))?.status, 'authorised');
  });

  test('consume refuses a consent not yet authorised, rejected, or account access', async () => {
    const waiting = await consents.open({
      clientId: 'client-1',
      accountId: 'acc-1',
      interactionUid: uid(),
      details: [payment()],
    });
    await refused(waiting.id, 'awaiting_authorisation', () => consents.consume(waiting.id, 'rs-1'));
    const rejected = await consents.reject(waiting.id, 'acc-1');
    assert.equal(rejected.status, 'rejected');
    await refused(waiting.id, 'rejected', () => consents.consume(waiting.id, 'rs-1'));

    const access = await authorised([accountAccess()]);
    const before = await row(access.id);
    await assert.rejects(consents.consume(access.id, 'rs-1'), (err: unknown) => {
      assert.ok(err instanceof ConsentStateError);
      assert.equal(err.reason, 'not_consumable');
      assert.equal(err.status, 'authorised');
      assert.match(err.message, /only a payment consent is consumed/);
      return true;
    });
    assert.deepEqual(await row(access.id), before);
    await assert.rejects(consents.consume('cns_nope', 'rs-1'), { code: 'not_found' });
  });

  test('reject: only while awaiting authorisation, only by its person', async () => {
    const c = await consents.open({
      clientId: 'client-1',
      accountId: 'acc-1',
      interactionUid: uid(),
      details: [payment()],
    });
    await assert.rejects(consents.reject(c.id, 'acc-2'), { code: 'not_found' });
    assert.equal((await consents.reject(c.id, 'acc-1')).status, 'rejected');
    assert.equal((await consents.reject(c.id, 'acc-1')).status, 'rejected');
    await refused(c.id, 'rejected', () =>
      consents.authorise(c.id, { grantId: 'g-rejected', accountId: 'acc-1' }),
    );
    const a = await authorised([payment()]);
    await refused(a.id, 'authorised', () => consents.reject(a.id, 'acc-1'));
  });

  test('revoke: by the person (only their own) or an administrator; again returns it', async () => {
    const c = await authorised([accountAccess()], 'acc-9');
    await assert.rejects(consents.revoke(c.id, { type: 'user', id: 'acc-8' }, 'acc-8'), {
      code: 'not_found',
    });
    assert.equal((await consents.find(c.id))?.status, 'authorised');
    const r = await consents.revoke(c.id, { type: 'user', id: 'acc-9' }, 'acc-9');
    assert.equal(r.status, 'revoked');
    assert.equal(r.revokedBy, 'user:acc-9');
    assert.equal(r.revokedAt?.getTime(), START);
    assert.equal((await consents.revoke(c.id, { type: 'admin', id: 'a' })).revokedBy, 'user:acc-9');
    const gone = await authorised([payment()]);
    clock.advance(TTL * 1000 + 1);
    await refused(gone.id, 'expired', () => consents.revoke(gone.id, { type: 'admin', id: 'a' }));
    clock.set(START);
  });

  test('list filters by person, client and effective status, newest first', async () => {
    const base = START + 3_600_000;
    clock.set(base);
    const one = await authorised([payment()], 'acc-list', 'client-a');
    clock.set(base + 1000);
    const two = await authorised([accountAccess()], 'acc-list', 'client-b');
    clock.set(base + 2000);
    const three = await authorised([payment()], 'acc-list', 'client-a');
    await consents.revoke(three.id, { type: 'admin', id: 'a' });
    clock.set(base + TTL * 1000 + 500); // `one` has expired, `two` has not
    const ids = async (filter: Parameters<typeof consents.list>[0]) =>
      (await consents.list(filter)).map((c) => c.id);
    assert.deepEqual(await ids({ accountId: 'acc-list' }), [three.id, two.id, one.id]);
    assert.deepEqual(await ids({ accountId: 'acc-list', clientId: 'client-a' }), [
      three.id,
      one.id,
    ]);
    assert.deepEqual(await ids({ accountId: 'acc-list', status: 'expired' }), [one.id]);
    assert.deepEqual(await ids({ accountId: 'acc-list', status: 'authorised' }), [two.id]);
    assert.deepEqual(await ids({ accountId: 'acc-list', status: 'revoked' }), [three.id]);
    assert.deepEqual(await ids({ accountId: 'acc-list', limit: 1 }), [three.id]);
    assert.deepEqual(await ids({ accountId: 'nobody' }), []);
    assert.equal((await ids({ accountId: 'acc-list', limit: Number.NaN })).length, 3);
    assert.equal((await ids({ accountId: 'acc-list', limit: 0 })).length, 1);
    // The sweep marks it; reads agree before and after.
    assert.ok((await consents.expireDue()) >= 1);
    assert.equal((await row(one.id)).status, 'expired');
    assert.deepEqual(await ids({ accountId: 'acc-list', status: 'expired' }), [one.id]);
    clock.set(START);
  });
});
