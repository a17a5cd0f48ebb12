// Reuse of a code or refresh token revokes its grant (RFC 6749 4.1.2, RFC 9700 4.14.2), whether
// the replay comes after the legitimate request or at the same moment on another instance: every
// token issued from the grant stops working (the winner's too) and one reuse event is recorded.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startTestServer, type TestServer, testSecrets } from '../support/server.ts';
import {
  codeFor,
  eventually,
  INVALID_GRANT,
  introspect,
  type Ledger,
  type Reply,
  redeem,
  refresh,
  seedLedger,
  signIn,
  type Tokens,
  userinfo,
} from './ledger.ts';

const ROUNDS = 10;

describe('reuse of codes and refresh tokens across two instances', () => {
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  let ledger: Ledger;

  before(async () => {
    db = await createTestDatabase();
    const env = testSecrets();
    a = await startTestServer({ db, env });
    // Both instances serve one issuer, as behind a load balancer.
    b = await startTestServer({ db, env: { ...env, ISSUER: a.issuer } });
    ledger = await seedLedger(a);
  });
  after(async () => {
    await a.close();
    await b.close();
    await db.drop();
  });

  const liveGrants = async () =>
    (await a.app.services.grants.list(ledger.person.id)).map((g) => g.grantId);

  /** The one grant that is new since `before`. */
  const newGrant = async (before: string[]) => {
    const fresh = (await liveGrants()).filter((id) => !before.includes(id));
    assert.equal(fresh.length, 1, 'one new grant');
    return fresh[0]!;
  };

  const reuseEvents = (action: string, grantId: string) =>
    eventually(
      async () =>
        (await a.app.services.audit.query({ action, targetType: 'grant', targetId: grantId }))
          .events,
      (events) => events.length > 0,
    );

  /** At most one success; every other reply is exactly invalid_grant. */
  function oneWinnerAtMost(replies: Reply[], round: number): Reply | undefined {
    const ok = replies.filter((r) => r.status === 200);
    assert.ok(ok.length <= 1, `round ${round}: ${ok.length} successes`);
    for (const r of replies.filter((r) => r.status !== 200)) {
      assert.equal(r.status, 400, `round ${round}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body, INVALID_GRANT, `round ${round}`);
    }
    return ok[0];
  }

  /**
   * Nothing issued from the grant works any more, and its reuse was recorded once. Checked in
   * this order because replaying a consumed token is itself a reuse: the grant and the events
   * first, then tokens never used before, then the consumed ones.
   */
  async function assertRevoked(
    round: number,
    grantId: string,
    action: string,
    tokens: { refresh?: string[]; access?: string[]; userinfo?: string[]; consumed?: string[] },
  ) {
    assert.ok(!(await liveGrants()).includes(grantId), `round ${round}: the grant is revoked`);

    const events = await reuseEvents(action, grantId);
    // Give a second (wrong) event time to arrive before counting.
    await new Promise((r) => setTimeout(r, 100));
    const all = (
      await a.app.services.audit.query({ action, targetType: 'grant', targetId: grantId })
    ).events;
    assert.equal(all.length, 1, `round ${round}: one ${action} event, got ${all.length}`);
    const [event] = events;
    assert.deepEqual(
      { actor: event!.actor, outcome: event!.outcome },
      { actor: { type: 'client', id: ledger.app.id }, outcome: 'failure' },
    );
    assert.match(event!.sourceIp ?? '', /127\.0\.0\.1$/, 'the source address is recorded');

    for (const rt of [...(tokens.refresh ?? []), ...(tokens.consumed ?? [])]) {
      for (const server of [a, b]) {
        const again = await refresh(server, ledger, rt);
        assert.deepEqual(
          { status: again.status, body: again.body },
          { status: 400, body: INVALID_GRANT },
          `round ${round}: a refresh token of the revoked grant is refused`,
        );
      }
    }
    for (const at of tokens.access ?? []) {
      assert.deepEqual(
        await introspect(b, ledger, at),
        { active: false },
        `round ${round}: an access token of the revoked grant is inactive`,
      );
    }
    for (const at of tokens.userinfo ?? []) {
      const info = await userinfo(a, at);
      assert.equal(info.status, 401, `round ${round}: userinfo refuses ${JSON.stringify(info)}`);
      assert.equal(info.body.error, 'invalid_token');
      assert.deepEqual(await introspect(a, ledger, at), { active: false });
    }
  }

  test('a refresh token sent to both instances at once: one success at most, then the grant is revoked', async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const before = await liveGrants();
      const first = await signIn(a, ledger);
      const grantId = await newGrant(before);
      const replies = await Promise.all([
        refresh(a, ledger, first.refresh_token!),
        refresh(b, ledger, first.refresh_token!),
      ]);
      const winner = oneWinnerAtMost(replies, round)?.body as Tokens | undefined;
      await assertRevoked(round, grantId, 'refresh_token.reused', {
        refresh: winner ? [winner.refresh_token!] : [],
        access: [first.access_token, ...(winner ? [winner.access_token] : [])],
        consumed: [first.refresh_token!],
      });
    }
  });

  test('a code redeemed at both instances at once: one success at most, then the grant is revoked', async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const before = await liveGrants();
      // Without a resource, the access token is for userinfo: both endpoints are checked.
      const code = await codeFor(a, ledger, { resource: false });
      const grantId = await newGrant(before);
      const replies = await Promise.all([redeem(a, ledger, code), redeem(b, ledger, code)]);
      const winner = oneWinnerAtMost(replies, round)?.body as Tokens | undefined;
      await assertRevoked(round, grantId, 'authorization_code.reused', {
        refresh: winner ? [winner.refresh_token!] : [],
        userinfo: winner ? [winner.access_token] : [],
      });
    }
  });

  test('a refresh token replayed after its rotation revokes the grant, as before', async () => {
    const before = await liveGrants();
    const first = await signIn(a, ledger);
    const grantId = await newGrant(before);
    const rotated = await refresh(a, ledger, first.refresh_token!);
    assert.equal(rotated.status, 200);
    const replay = await refresh(b, ledger, first.refresh_token!);
    assert.deepEqual(
      { status: replay.status, body: replay.body },
      { status: 400, body: INVALID_GRANT },
    );
    const next = rotated.body as Tokens;
    await assertRevoked(0, grantId, 'refresh_token.reused', {
      refresh: [next.refresh_token!],
      access: [first.access_token, next.access_token],
      consumed: [first.refresh_token!],
    });
  });

  test('a code redeemed a second time revokes the grant, as before', async () => {
    const before = await liveGrants();
    const code = await codeFor(a, ledger, { resource: false });
    const grantId = await newGrant(before);
    const first = await redeem(a, ledger, code);
    assert.equal(first.status, 200);
    const again = await redeem(b, ledger, code);
    assert.deepEqual(
      { status: again.status, body: again.body },
      { status: 400, body: INVALID_GRANT },
    );
    const tokens = first.body as Tokens;
    await assertRevoked(0, grantId, 'authorization_code.reused', {
      refresh: [tokens.refresh_token!],
      userinfo: [tokens.access_token],
    });
  });
});
