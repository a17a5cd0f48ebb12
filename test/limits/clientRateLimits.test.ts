// Per-client request limits: 429 slow_down with Retry-After at the token and introspection
// endpoints and problem JSON at the admin API, other clients unaffected, callers without the
// client's credentials spending none of its budget, the limit shared by two instances on one
// database within the margin the README states, and one audit event per client and window.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import { ADMIN_SCOPES, adminApiIdentifier } from '../../src/admin/adminApi.ts';
import type { RateLimit } from '../../src/limits/rateLimit.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startTestServer, type TestServer, testSecrets } from '../support/server.ts';

const LEDGER = 'https://ledger.api.example';
const SYNC_MS = 100;

/**
 * A window length (seconds) whose current window has at least `room` seconds left: windows are
 * aligned to multiples of their length, so a test picks one it cannot straddle.
 */
function windowWithRoom(room: number): number {
  const now = Date.now() / 1000;
  for (let w = 600; ; w++) if (w - (now % w) > room) return w;
}

interface Client {
  id: string;
  secret: string;
}

describe('per-client rate limits on two instances', () => {
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  const window = windowWithRoom(180);

  before(async () => {
    db = await createTestDatabase();
    const env = { ...testSecrets(), CLIENT_RATE_LIMIT_SYNC_MS: String(SYNC_MS) };
    a = await startTestServer({ db, env });
    b = await startTestServer({ db, env: { ...env, ISSUER: a.issuer } });
    await a.app.services.catalogue.create({
      identifier: LEDGER,
      name: 'Ledger',
      tokenFormat: 'opaque',
      scopes: [{ name: 'ledger:read', description: 'Read the ledger' }],
    });
  });
  after(async () => {
    await a.close();
    await b.close();
    await db.drop();
  });

  async function newClient(name: string, rateLimit?: RateLimit, admin = false): Promise<Client> {
    const { client, secret } = await a.app.services.clients.create({
      name,
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: admin
        ? { [adminApiIdentifier(a.issuer)]: [...ADMIN_SCOPES] }
        : { [LEDGER]: ['ledger:read'] },
      rateLimit: rateLimit ?? null,
    });
    return { id: client.clientId, secret: secret! };
  }

  const configs = new Map<string, oidc.Configuration>();
  async function config(server: TestServer, client: Client, secret = client.secret) {
    const key = `${server.issuer}|${server.app.config.port}|${client.id}|${secret}`;
    let found = configs.get(key);
    if (!found) {
      // Discovery of instance B: both serve one issuer, so its endpoints are rewritten to B.
      const base = await oidc.discovery(
        new URL(a.issuer),
        client.id,
        {},
        oidc.ClientSecretBasic(secret),
        { execute: [oidc.allowInsecureRequests] },
      );
      const meta = { ...base.serverMetadata() };
      const port = (server === a ? new URL(a.issuer) : new URL(bUrl())).port;
      for (const k of ['token_endpoint', 'introspection_endpoint'] as const) {
        const url = new URL(meta[k]!);
        url.port = port;
        meta[k] = url.href;
      }
      found = new oidc.Configuration(meta, client.id, {}, oidc.ClientSecretBasic(secret));
      oidc.allowInsecureRequests(found);
      configs.set(key, found);
    }
    return found;
  }
  const bUrl = () => `http://127.0.0.1:${b.app.config.port}`;

  /** One client-credentials request: 'ok', or the OAuth error with its status and Retry-After. */
  async function token(server: TestServer, client: Client, secret?: string) {
    try {
      const tokens = await oidc.clientCredentialsGrant(await config(server, client, secret), {
        resource: LEDGER,
      });
      return { outcome: 'ok' as const, accessToken: tokens.access_token };
    } catch (err) {
      const e = err as oidc.ResponseBodyError;
      return {
        outcome: e.error ?? String(err),
        status: e.status,
        retryAfter: e.response?.headers.get('retry-after') ?? null,
        description: e.error_description,
      };
    }
  }

  const events = async (action: string, clientId: string) =>
    (await a.app.services.audit.query({ action, actorId: clientId, limit: 500 })).events;

  /** Waits until the refusal's audit event (written off the response path) is there. */
  async function eventually<T>(read: () => Promise<T[]>, count: number): Promise<T[]> {
    for (let i = 0; i < 50; i++) {
      const found = await read();
      if (found.length >= count) return found;
      await sleep(50);
    }
    return read();
  }

  test('over its limit a client gets 429 slow_down with Retry-After; another client is unaffected', async () => {
    const limited = await newClient('Limited', { requests: 4, windowSeconds: window });
    const other = await newClient('Other');
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await token(a, limited)).outcome);
    assert.deepEqual(answers, ['ok', 'ok', 'ok', 'ok']);

    const refused = await token(a, limited);
    assert.equal(refused.outcome, 'slow_down');
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.retryAfter);
    assert.ok(
      Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= window,
      `Retry-After ${refused.retryAfter}`,
    );
    assert.match(String(refused.description), /request limit/);

    // Introspection shares the budget: refused too, before looking at the token.
    const otherToken = await token(a, other);
    assert.equal(otherToken.outcome, 'ok');
    await assert.rejects(
      oidc.tokenIntrospection(await config(a, limited), otherToken.accessToken!),
      (err: oidc.ResponseBodyError) => err.status === 429 && err.error === 'slow_down',
    );
    // Nothing was issued to the refused requests.
    await sleep(300);
    const issued = await events('token.issued', limited.id);
    assert.equal(issued.length, 4, 'four tokens issued, none for the refused requests');

    // The other client goes on, on both instances.
    assert.equal((await token(a, other)).outcome, 'ok');
    assert.equal((await token(b, other)).outcome, 'ok');

    // One audit event for the window, however many refusals.
    await token(a, limited);
    await token(b, limited);
    const limitedEvents = await eventually(() => events('client.rate_limited', limited.id), 1);
    await sleep(300);
    const again = await events('client.rate_limited', limited.id);
    assert.equal(again.length, 1, 'recorded once per client and window');
    assert.deepEqual(limitedEvents[0]!.details, {
      endpoint: 'token',
      limit: `4/${window}`,
    });
    assert.equal(limitedEvents[0]!.actor.type, 'client');
    assert.equal(limitedEvents[0]!.outcome, 'failure');
  });

  test('callers without the client secret do not spend its budget', async () => {
    const victim = await newClient('Victim', { requests: 3, windowSeconds: window });
    for (let i = 0; i < 10; i++) {
      const server = i % 2 ? a : b;
      const res = await fetch(`http://127.0.0.1:${server.app.config.port}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${victim.id}:not-the-secret`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: LEDGER }),
      });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
    }
    await sleep(SYNC_MS * 5);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await token(a, victim)).outcome);
    assert.deepEqual(answers, ['ok', 'ok', 'ok', 'slow_down']);
  });

  test('the limit is shared by both instances through the database', async () => {
    const shared = await newClient('Shared', { requests: 10, windowSeconds: window });
    for (let i = 0; i < 6; i++) assert.equal((await token(a, shared)).outcome, 'ok');
    // A sends its counts within one sync interval, B reads them within the next.
    await sleep(SYNC_MS * 10);
    const onB = [];
    for (let i = 0; i < 5; i++) onB.push((await token(b, shared)).outcome);
    assert.deepEqual(onB, ['ok', 'ok', 'ok', 'ok', 'slow_down'], 'B allows only what A left');
    await sleep(SYNC_MS * 10);
    assert.equal((await token(a, shared)).outcome, 'slow_down', 'and A knows what B spent');
  });

  test('a burst split across both instances stays within the stated margin', async () => {
    const LIMIT = 20;
    const burst = await newClient('Burst', { requests: LIMIT, windowSeconds: window });
    // Warm both instances' client caches, then 60 requests at once, alternating instances.
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => token(i % 2 ? b : a, burst)),
    );
    const ok = answers.filter((r) => r.outcome === 'ok').length;
    const refused = answers.filter((r) => r.outcome === 'slow_down').length;
    assert.equal(ok + refused, 60, 'every answer a token or slow_down');
    // Margin (README): the other instance's requests of up to two sync intervals; within one
    // interval each instance can at most use the whole limit locally.
    assert.ok(ok >= LIMIT, `at least the limit got through (${ok})`);
    assert.ok(ok <= LIMIT * 2, `at most limit + margin got through (${ok})`);
    await sleep(SYNC_MS * 10);
    assert.equal((await token(a, burst)).outcome, 'slow_down');
    assert.equal((await token(b, burst)).outcome, 'slow_down');
    const counted = await db.knex('client_rate_limits').where({ client_id: burst.id }).first();
    assert.equal(Number(counted.requests), ok, 'the database holds what both instances served');
  });

  test('the admin API limits per client of the token, with a 429 problem', async () => {
    const admin = await newClient('Automation', { requests: 3, windowSeconds: window }, true);
    const config = await oidc.discovery(
      new URL(a.issuer),
      admin.id,
      {},
      oidc.ClientSecretBasic(admin.secret),
      { execute: [oidc.allowInsecureRequests] },
    );
    // The token request is the first of the three.
    const { access_token } = await oidc.clientCredentialsGrant(config, {
      resource: adminApiIdentifier(a.issuer),
    });
    const call = () =>
      fetch(a.url('/admin/v1/clients'), { headers: { authorization: `Bearer ${access_token}` } });
    assert.equal((await call()).status, 200);
    assert.equal((await call()).status, 200);
    const refused = await call();
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('content-type'), 'application/problem+json');
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= window);
    const problem = (await refused.json()) as Record<string, unknown>;
    assert.equal(problem.type, 'urn:portcullis:problem:rate_limited');
    assert.equal(problem.status, 429);
    const limited = await eventually(() => events('client.rate_limited', admin.id), 1);
    assert.equal(limited[0]!.details.endpoint, 'admin_api');
  });
});
