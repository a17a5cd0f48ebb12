// OpenID Connect Back-Channel Logout 1.0 end to end: a real relying party receives signed logout
// tokens after a person's logout, an administrator ending sessions or disabling the account, and
// a password change; a slow or failing relying party never delays the logout, is retried with
// backoff (the injected clock moves the worker on) and is given up after the limit, audited.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { adminApi } from '../admin/helpers.ts';
import { PASSWORD } from '../support/fixtures.ts';
import {
  BACKCHANNEL_EVENT,
  type LogoutWorld,
  logoutWorld,
  MAX_ATTEMPTS,
  RETRY_SECONDS,
  TIMEOUT_MS,
} from './world.ts';

describe('back-channel logout', () => {
  let w: LogoutWorld;
  const outbox = () => w.server.app.services.logoutOutbox;
  const rows = () =>
    w.server.db
      .knex('logout_deliveries')
      .select('client_id', 'account_id', 'sid', 'reason', 'attempts', 'next_attempt_at');
  const audited = async (action: 'logout.backchannel_delivered' | 'logout.backchannel_failed') =>
    (await w.server.app.services.audit.query({ action })).events.map((e) => ({
      actor: e.actor.type,
      target: e.target?.id,
      outcome: e.outcome,
      details: e.details,
    }));

  before(async () => {
    w = await logoutWorld();
  });
  after(async () => {
    await w?.close();
  });
  beforeEach(async () => {
    w.rp.tokens.length = 0;
    w.rp.behaviour = 'ok';
    await w.server.db.knex('logout_deliveries').delete();
  });

  test('a logout sends the relying party a signed logout token naming the session', async () => {
    const session = await w.signIn();
    assert.equal(typeof session.claims.sid, 'string', 'the ID token carries sid');
    const done = await w.signOut(session);
    assert.equal(done.location, 'https://app.example/signed-out');
    await w.rp.received(1);
    await outbox().idle();

    const { payload, header } = await w.verify(w.rp.tokens[0]!);
    assert.equal(header.typ, 'logout+jwt');
    assert.equal(payload.sub, session.claims.sub);
    assert.equal(payload.sid, session.claims.sid);
    assert.deepEqual(payload.events, { [BACKCHANNEL_EVENT]: {} });
    assert.equal(typeof payload.jti, 'string');
    assert.equal(typeof payload.iat, 'number');
    assert.equal('nonce' in payload, false, 'a logout token never has a nonce');
    assert.deepEqual(await rows(), [], 'delivered notices leave the outbox');
    const delivered = (
      await w.server.app.services.audit.query({
        action: 'logout.backchannel_delivered',
      })
    ).events.at(-1)!;
    assert.deepEqual(
      { actor: delivered.actor.type, target: delivered.target?.id, details: delivered.details },
      {
        actor: 'system',
        target: w.bank.alice.id,
        details: { client: w.bank.client.id, attempt: 1, reason: 'logout' },
      },
    );
  });
  test('a relying party that hangs does not delay the logout; it is retried later', async () => {
    w.rp.behaviour = 'hang';
    const session = await w.signIn();
    const done = await w.signOut(session);
    assert.equal(done.location, 'https://app.example/signed-out');
    // Waiting for the relying party would take the whole attempt timeout.
    assert.ok(done.ms < TIMEOUT_MS - 1000, `the logout answered in ${done.ms} ms`);
    await w.rp.received(1);
    await outbox().idle();
    const [row] = await rows();
    assert.equal(row?.attempts, 1);
    assert.equal(
      new Date(row!.next_attempt_at).getTime(),
      w.clock.now() + RETRY_SECONDS * 1000,
      'the next attempt waits the retry delay',
    );
    // Not yet due: nothing is sent.
    assert.equal(await outbox().deliverDue(), 0);
    w.rp.behaviour = 'ok';
    w.clock.advance(RETRY_SECONDS * 1000);
    assert.equal(await outbox().deliverDue(), 1);
    assert.equal(w.rp.tokens.length, 2);
    const first = await w.verify(w.rp.tokens[0]!);
    const second = await w.verify(w.rp.tokens[1]!);
    assert.equal(second.payload.sid, session.claims.sid);
    assert.notEqual(second.payload.jti, first.payload.jti, 'each attempt is a fresh token');
    assert.deepEqual(await rows(), []);
    assert.deepEqual((await audited('logout.backchannel_delivered')).at(-1)?.details, {
      client: w.bank.client.id,
      attempt: 2,
      reason: 'logout',
    });
  });

  test('a relying party that keeps failing is retried with backoff, then given up (audited)', async () => {
    w.rp.behaviour = 'down';
    const failedBefore = (await audited('logout.backchannel_failed')).length;
    const session = await w.signIn();
    await w.signOut(session);
    await w.rp.received(1);
    await outbox().idle();
    assert.equal((await rows())[0]?.attempts, 1);
    // Backoff doubles: the third attempt is due 10 s + 20 s after the first.
    w.clock.advance(RETRY_SECONDS * 1000);
    assert.equal(await outbox().deliverDue(), 1);
    w.clock.advance(RETRY_SECONDS * 1000);
    assert.equal(await outbox().deliverDue(), 0, 'the third attempt waits twice as long');
    w.clock.advance(RETRY_SECONDS * 1000);
    assert.equal(await outbox().deliverDue(), 1);
    assert.equal(w.rp.tokens.length, MAX_ATTEMPTS);
    assert.deepEqual(await rows(), [], 'given up after the limit');
    const failed = await audited('logout.backchannel_failed');
    assert.equal(failed.length, failedBefore + 1);
    assert.deepEqual(failed.at(-1), {
      actor: 'system',
      target: w.bank.alice.id,
      outcome: 'failure',
      details: {
        client: w.bank.client.id,
        attempt: MAX_ATTEMPTS,
        error: 'answered 503',
        reason: 'logout',
      },
    });
    // Nothing more is sent, even once the relying party is back.
    w.rp.behaviour = 'ok';
    w.clock.advance(3600 * 1000);
    assert.equal(await outbox().deliverDue(), 0);
    assert.equal(w.rp.tokens.length, MAX_ATTEMPTS);
  });

  test('a redirect is not followed: it is a failed attempt', async () => {
    w.rp.behaviour = 'redirect';
    await w.signOut(await w.signIn());
    await w.rp.received(1);
    await outbox().idle();
    assert.equal(w.rp.tokens.length, 1, 'only the registered URI was called');
    assert.equal((await rows())[0]?.attempts, 1);
  });

  test('an administrator ending sessions tells the relying party of each one', async () => {
    const admin = adminApi(w.server);
    const one = await w.signIn();
    const two = await w.signIn();
    assert.notEqual(one.claims.sid, two.claims.sid);
    const token = await admin.machineToken();
    const reply = await admin.call('POST', `/users/${w.bank.alice.id}/revoke-sessions`, {
      token,
    });
    assert.equal(reply.status, 200);
    await w.rp.received(2);
    await outbox().idle();
    const sids = await Promise.all(w.rp.tokens.map(async (t) => (await w.verify(t)).payload.sid));
    assert.deepEqual(sids.sort(), [one.claims.sid, two.claims.sid].sort());
    const reasons = (await audited('logout.backchannel_delivered'))
      .slice(-2)
      .map((e) => e.details.reason);
    assert.deepEqual(reasons, ['sessions_revoked', 'sessions_revoked']);
  });

  test('disabling an account ends its sessions and tells the relying party', async () => {
    const admin = adminApi(w.server);
    const session = await w.signIn();
    const token = await admin.machineToken();
    const reply = await admin.call('POST', `/users/${w.bank.alice.id}/disable`, { token });
    assert.equal(reply.status, 200);
    await w.rp.received(1);
    await outbox().idle();
    const { payload } = await w.verify(w.rp.tokens[0]!);
    assert.equal(payload.sid, session.claims.sid);
    assert.equal(
      (await audited('logout.backchannel_delivered')).at(-1)?.details.reason,
      'disabled',
    );
    const sessions = await w.server.db
      .knex('oidc_artifacts')
      .where({ model: 'Session', account_id: w.bank.alice.id })
      .count('* as n');
    assert.equal(Number(sessions[0]!.n), 0, 'the sessions ended');
    await w.server.app.services.accounts.enable(w.bank.alice.id);
  });

  test('a password change tells the relying party', async () => {
    const session = await w.signIn();
    await w.server.app.services.accounts.setPassword(w.bank.alice.id, PASSWORD);
    await w.rp.received(1);
    await outbox().idle();
    assert.equal((await w.verify(w.rp.tokens[0]!)).payload.sid, session.claims.sid);
    assert.equal(
      (await audited('logout.backchannel_delivered')).at(-1)?.details.reason,
      'password_set',
    );
  });
  test('"sign out everywhere" on the account page tells the relying party', async () => {
    const session = await w.signIn();
    const page = await session.browser.open(w.server.url('/account'), w.server.issuer);
    assert.match(page.html, /Sign out everywhere/);
    const done = await session.browser.submit(
      page,
      /\/account\/sign-out-everywhere$/,
      {},
      w.server.issuer,
    );
    assert.match(done.html, /Your sessions on every device have ended/);
    await w.rp.received(1);
    await outbox().idle();
    assert.equal((await w.verify(w.rp.tokens[0]!)).payload.sid, session.claims.sid);
    assert.equal(
      (await audited('logout.backchannel_delivered')).at(-1)?.details.reason,
      'everywhere',
    );
    const logouts = (await w.server.app.services.audit.query({ action: 'logout.success' })).events;
    assert.deepEqual(logouts.at(-1)?.details, { everywhere: true });
    // The browser's session is gone: the account page asks to sign in again.
    const again = await session.browser.request(w.server.url('/account'));
    assert.equal(again.status, 303);
  });

  test('"sign out everywhere" without the page\'s CSRF token is refused and ends nothing', async () => {
    const session = await w.signIn();
    const refused = await session.browser.request(w.server.url('/account/sign-out-everywhere'), {
      form: { _csrf: 'forged' },
    });
    assert.equal(refused.status, 403);
    assert.deepEqual(await rows(), [], 'no notice written');
    const sessions = await w.server.db
      .knex('oidc_artifacts')
      .where({ model: 'Session', account_id: w.bank.alice.id })
      .count('* as n');
    assert.ok(Number(sessions[0]!.n) >= 1, 'the sessions live on');
    assert.equal(w.rp.tokens.length, 0);
  });
});
