// The delivery rules of the back-channel logout worker on a real database, audit log and HTTP
// relying party: in production only https URIs are called (an http one is a failed attempt,
// never a request), a client without a back-channel URI leaves nothing behind, and no log line
// carries the logout token.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createAuditLog } from '../../src/audit/log.ts';
import { createSecurityRecorder } from '../../src/audit/recorder.ts';
import { manualClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import { createLogoutOutbox } from '../../src/logout/outbox.ts';
import { createLogoutStore } from '../../src/logout/store.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startRelyingParty, type TestRelyingParty } from './relyingParty.ts';

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.logout-token-under-test.signature';

describe('back-channel logout delivery rules', () => {
  let db: TestDatabase;
  let rp: TestRelyingParty;
  const lines: string[] = [];
  const clock = manualClock();
  const notice = { clientId: 'shop', accountId: 'acc-1', sid: 'sid-1', reason: 'logout' };

  const outbox = (
    httpsOnly: boolean,
    sign: (n: { clientId: string }) => Promise<{ uri: string; token: string } | undefined>,
  ) => {
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const audit = createAuditLog({ knex: db.knex, clock });
    return {
      audit,
      outbox: createLogoutOutbox({
        store: createLogoutStore(db.knex),
        clock,
        logger,
        record: createSecurityRecorder({ audit, logger, strict: true }),
        settings: { timeoutMs: 10_000, maxAttempts: 2, retrySeconds: 5, httpsOnly },
        sign,
      }),
    };
  };

  before(async () => {
    db = await createTestDatabase();
    rp = await startRelyingParty();
  });
  after(async () => {
    await rp?.close();
    await db?.drop();
  });
  beforeEach(async () => {
    rp.tokens.length = 0;
    await db.knex('logout_deliveries').delete();
  });

  test('in production an http URI is never called: failed attempts, then given up', async () => {
    const { outbox: box, audit } = outbox(true, async () => ({ uri: rp.uri, token: TOKEN }));
    await box.add([notice]);
    assert.equal(await box.deliverDue(), 1);
    clock.advance(5000);
    assert.equal(await box.deliverDue(), 1);
    assert.equal(rp.tokens.length, 0, 'no request reached the relying party');
    assert.deepEqual(await db.knex('logout_deliveries').select(), []);
    const [failed] = (await audit.query({ action: 'logout.backchannel_failed' })).events;
    assert.deepEqual(failed?.details, {
      client: 'shop',
      attempt: 2,
      error: 'the back-channel logout URI is not https',
      reason: 'logout',
    });
  });

  test('outside production the loopback http URI is called once and the row goes', async () => {
    const { outbox: box } = outbox(false, async () => ({ uri: rp.uri, token: TOKEN }));
    await box.add([notice]);
    assert.equal(await box.deliverDue(), 1);
    assert.deepEqual(rp.tokens, [TOKEN]);
    assert.deepEqual(await db.knex('logout_deliveries').select(), []);
  });

  test('a client with no back-channel URI (any more) leaves nothing and sends nothing', async () => {
    const { outbox: box, audit } = outbox(false, async () => undefined);
    const before = (await audit.query({})).events.length;
    await box.add([notice]);
    assert.equal(await box.deliverDue(), 1);
    assert.deepEqual(await db.knex('logout_deliveries').select(), []);
    assert.equal(rp.tokens.length, 0);
    assert.equal((await audit.query({})).events.length, before, 'nothing to audit');
  });

  test('no log line carries the logout token', async () => {
    rp.behaviour = 'down';
    const { outbox: box } = outbox(false, async () => ({ uri: rp.uri, token: TOKEN }));
    await box.add([notice]);
    await box.deliverDue();
    rp.behaviour = 'ok';
    assert.ok(
      lines.some((l) => l.includes('will be retried')),
      'the retry is logged',
    );
    assert.ok(lines.every((l) => !l.includes('logout-token-under-test')));
  });
  test('two instances working the queue at once send each notice once', async () => {
    const sign = async (n: { clientId: string }) => ({ uri: rp.uri, token: `token-${n.clientId}` });
    const one = outbox(false, sign).outbox;
    const two = outbox(false, sign).outbox;
    await one.add(Array.from({ length: 50 }, (_, i) => ({ ...notice, clientId: `client-${i}` })));
    const [a, b] = await Promise.all([one.deliverDue(), two.deliverDue()]);
    assert.equal(a + b, 50, 'every notice attempted once');
    assert.equal(rp.tokens.length, 50);
    assert.equal(new Set(rp.tokens).size, 50, 'none sent twice');
    assert.deepEqual(await db.knex('logout_deliveries').select(), []);
  });
});
