// Bursts at one instance, whose artefact store batches what one event-loop turn asks: batching
// changes no outcome. One code redeemed 50 times at once gives one token and revokes the grant,
// parallel refreshes of one token revoke the grant, a client assertion replayed in parallel is
// accepted once, and the audit chain still verifies after it all.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  codeFor,
  eventually,
  INVALID_GRANT,
  introspect,
  LEDGER,
  type Ledger,
  type Reply,
  redeem,
  refresh,
  seedLedger,
  signIn,
  type Tokens,
} from './ledger.ts';

const BURST = 50;

describe('parallel redemptions at one instance', () => {
  let server: TestServer;
  let ledger: Ledger;

  before(async () => {
    server = await startTestServer();
    ledger = await seedLedger(server);
  });
  after(() => server.close());

  const liveGrants = async () =>
    (await server.app.services.grants.list(ledger.person.id)).map((g) => g.grantId);

  async function newGrant(before: string[]): Promise<string> {
    const fresh = (await liveGrants()).filter((id) => !before.includes(id));
    assert.equal(fresh.length, 1, 'one new grant');
    return fresh[0]!;
  }

  /** The successes; every other reply must be exactly invalid_grant. */
  function successes(replies: Reply[]): Reply[] {
    for (const r of replies.filter((r) => r.status !== 200))
      assert.deepEqual({ status: r.status, body: r.body }, { status: 400, body: INVALID_GRANT });
    return replies.filter((r) => r.status === 200);
  }

  async function assertReuseRecorded(action: string, grantId: string): Promise<void> {
    const events = await eventually(
      async () =>
        (
          await server.app.services.audit.query({
            action,
            targetType: 'grant',
            targetId: grantId,
          })
        ).events,
      (list) => list.length > 0,
    );
    assert.ok(events.length > 0, `${action} recorded`);
  }

  test(`${BURST} redemptions of one code at once: exactly one token, then the grant is revoked`, async () => {
    const before = await liveGrants();
    const code = await codeFor(server, ledger);
    const grantId = await newGrant(before);
    const replies = await Promise.all(
      Array.from({ length: BURST }, () => redeem(server, ledger, code)),
    );
    const ok = successes(replies);
    assert.equal(ok.length, 1, 'exactly one redemption succeeds');
    const winner = ok[0]!.body as Tokens;

    assert.ok(!(await liveGrants()).includes(grantId), 'the grant is revoked');
    await assertReuseRecorded('authorization_code.reused', grantId);
    assert.deepEqual(await introspect(server, ledger, winner.access_token), { active: false });
    const again = await refresh(server, ledger, winner.refresh_token!);
    assert.deepEqual(
      { status: again.status, body: again.body },
      { status: 400, body: INVALID_GRANT },
    );
  });

  test('parallel refreshes of one refresh token: one success at most, then the grant is revoked', async () => {
    const before = await liveGrants();
    const first = await signIn(server, ledger);
    const grantId = await newGrant(before);
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => refresh(server, ledger, first.refresh_token!)),
    );
    const ok = successes(replies);
    assert.ok(ok.length <= 1, `${ok.length} successes`);

    assert.ok(!(await liveGrants()).includes(grantId), 'the grant is revoked');
    await assertReuseRecorded('refresh_token.reused', grantId);
    for (const tokens of [first, ...ok.map((r) => r.body as Tokens)]) {
      assert.deepEqual(await introspect(server, ledger, tokens.access_token), { active: false });
    }
  });

  test('one client assertion sent 20 times at once is accepted once', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const { client } = await server.app.services.clients.create({
      name: 'Signed batch job',
      grantTypes: ['client_credentials'],
      authMethod: 'private_key_jwt',
      jwks: { keys: [jwk] },
      apiAccess: { [LEDGER]: ['ledger:read'] },
    });
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(client.clientId)
      .setSubject(client.clientId)
      .setAudience(server.issuer)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    const send = async () => {
      const res = await fetch(server.url('/token'), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          resource: LEDGER,
          client_id: client.clientId,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }),
      });
      return { status: res.status, body: await res.json() };
    };
    const replies = await Promise.all(Array.from({ length: 20 }, send));
    assert.equal(replies.filter((r) => r.status === 200).length, 1, JSON.stringify(replies));
    for (const r of replies.filter((r) => r.status !== 200)) {
      assert.deepEqual(r, {
        status: 401,
        body: { error: 'invalid_client', error_description: 'client authentication failed' },
      });
    }
  });

  test('after a burst of token requests every one is recorded and the audit chain verifies', async () => {
    const audit = server.app.services.audit;
    const issuedBefore = (await audit.query({ action: 'token.issued', limit: 500 })).events.length;
    const replies = await Promise.all(
      Array.from({ length: BURST }, async () => {
        const res = await fetch(server.url('/token'), {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${ledger.resourceServer.id}:${ledger.resourceServer.secret}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams({ grant_type: 'client_credentials', resource: LEDGER }),
        });
        return res.status;
      }),
    );
    assert.deepEqual(
      replies,
      replies.map(() => 200),
    );
    const issued = await eventually(
      async () => (await audit.query({ action: 'token.issued', limit: 500 })).events.length,
      (n) => n >= issuedBefore + BURST,
    );
    assert.equal(issued, issuedBefore + BURST);
    const result = await audit.verify();
    assert.equal(result.ok, true, JSON.stringify(result));
  });
});
