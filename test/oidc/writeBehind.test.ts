// The artefact writes of one request are held back and sent as one statement before its response
// leaves (src/oidc/requestWrites.ts, src/oidc/writeBehind.ts): a request reads its own writes, the
// last write to a key is the one that stays, a response arrives only once its writes are committed
// (read here from a connection of the test's own), and when the flush fails the request answers a
// clean error and nothing of it is written. Real PostgreSQL and real HTTP throughout.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type Koa from 'koa';
import pg from 'pg';
import { type createArtifactAdapter, hashId } from '../../src/oidc/adapter.ts';
import { type ArtifactApp, startArtifactApp } from '../support/artifactApp.ts';
import { HttpBrowser } from '../support/browserless.ts';
import { type TestDatabase, testDatabaseKind } from '../support/db.ts';
import { PASSWORD, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const skip =
  testDatabaseKind() !== 'postgres' &&
  'needs TEST_DATABASE_URL (rows are read from a connection of the test own)';

/** A connection of the test's own, outside the server's pool. */
async function otherConnection(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

async function rowOf(
  conn: pg.Client,
  model: string,
  key: string,
): Promise<{ payload: Record<string, unknown>; consumed_at: Date | null } | undefined> {
  const { rows } = await conn.query(
    'select payload, consumed_at from oidc_artifacts where model = $1 and id = $2',
    [model, key],
  );
  return rows[0];
}

/** A trigger on oidc_artifacts for rows of `model`: slow (200 ms), or failing in `how`. */
async function trap(
  conn: pg.Client,
  model: string,
  how: 'slow' | 'refuse' | 'disconnect',
): Promise<void> {
  const body = {
    slow: 'perform pg_sleep(0.2);',
    refuse: "raise exception 'artifact write refused by the test';",
    // The database going away in the middle of the statement: its connection is terminated.
    disconnect: 'perform pg_terminate_backend(pg_backend_pid());',
  }[how];
  await conn.query(`create or replace function test_artifact_trap() returns trigger
    language plpgsql as $$ begin ${body} return new; end $$`);
  await conn.query('drop trigger if exists artifact_trap on oidc_artifacts');
  await conn.query(`create trigger artifact_trap before insert on oidc_artifacts
    for each row when (new.model = '${model}') execute function test_artifact_trap()`);
}

const untrap = (conn: pg.Client) =>
  conn.query('drop trigger if exists artifact_trap on oidc_artifacts');

describe('write-behind of one request', { skip }, () => {
  let db: TestDatabase;
  let Adapter: ReturnType<typeof createArtifactAdapter>;
  let other: pg.Client;
  let base: string;
  let app: ArtifactApp;
  /** What the test's one route does, set by each test. */
  let route: (ctx: Koa.Context) => Promise<unknown>;

  before(async () => {
    app = await startArtifactApp({ handle: (ctx) => route(ctx) });
    ({ db, Adapter, other, base } = app);
  });
  after(() => app.close());
  afterEach(() => untrap(other));

  test('a request reads its own writes; the last write to a key stays; one statement carries them', async () => {
    const grants = new Adapter('Grant');
    const sessions = new Adapter('Session');
    // Written before the request, deleted in it.
    await grants.upsert('g-old', { kind: 'Grant', jti: 'g-old', accountId: 'alice' }, 600);
    let atEnd = 0;
    route = async () => {
      const start = db.counter.statements;
      // A save, then read back in the same request: its payload, not yet in the database.
      const payload = { kind: 'Session', uid: 'uid-1', accountId: 'alice', nested: { n: 1 } };
      await sessions.upsert('s-1', payload, 600);
      payload.nested.n = 2; // changed after the save: not what was saved
      const found = await sessions.find('s-1');
      const byUid = await sessions.findByUid('uid-1');
      const meanwhile = await rowOf(other, 'Session', hashId('s-1'));
      // Saved twice: the second stays.
      await grants.upsert('g-1', { kind: 'Grant', jti: 'g-1', v: 1 }, 600);
      await grants.upsert('g-1', { kind: 'Grant', jti: 'g-1', v: 2 }, 600);
      const twice = await grants.find('g-1');
      // Saved, then deleted: a delete.
      await grants.upsert('g-2', { kind: 'Grant', jti: 'g-2' }, 600);
      await grants.destroy('g-2');
      const deleted = await grants.find('g-2');
      // Deleted, then saved: a save.
      await grants.destroy('g-3');
      await grants.upsert('g-3', { kind: 'Grant', jti: 'g-3', back: true }, 600);
      const back = await grants.find('g-3');
      // A row of the database deleted by the request: gone for it, still there for others.
      await grants.destroy('g-old');
      const old = await grants.find('g-old');
      const oldMeanwhile = await rowOf(other, 'Grant', 'g-old');
      // A found copy changed by the caller does not change what the request holds.
      const mutated = (await sessions.find('s-1')) as { accountId: string };
      mutated.accountId = 'mallory';
      const again = await sessions.find('s-1');
      atEnd = db.counter.statements;
      return {
        statements: atEnd - start,
        found,
        byUid,
        meanwhile: meanwhile ?? null,
        twice,
        deleted: deleted ?? null,
        back,
        old: old ?? null,
        oldMeanwhile: Boolean(oldMeanwhile),
        again,
      };
    };
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, Record<string, unknown> | null | number>;
    const flushed = db.counter.statements - atEnd;

    assert.equal(body.statements, 0, 'every read of the request was answered from its own writes');
    assert.deepEqual(body.found, {
      kind: 'Session',
      uid: 'uid-1',
      accountId: 'alice',
      nested: { n: 1 },
      jti: 's-1',
    });
    assert.equal((body.byUid as Record<string, unknown>).uid, 'uid-1');
    assert.equal(body.meanwhile, null, 'not in the database before the request is done');
    assert.equal((body.twice as Record<string, unknown>).v, 2);
    assert.equal(body.deleted, null);
    assert.equal((body.back as Record<string, unknown>).back, true);
    assert.equal(body.old, null);
    assert.equal(body.oldMeanwhile, true);
    assert.equal((body.again as Record<string, unknown>).accountId, 'alice');

    // All of it went out in one statement, before the response.
    assert.equal(flushed, 1);
    assert.deepEqual((await rowOf(other, 'Session', hashId('s-1')))?.payload, {
      kind: 'Session',
      uid: 'uid-1',
      accountId: 'alice',
      nested: { n: 1 },
    });
    assert.equal((await rowOf(other, 'Grant', 'g-1'))?.payload.v, 2);
    assert.equal(await rowOf(other, 'Grant', 'g-2'), undefined);
    assert.equal((await rowOf(other, 'Grant', 'g-3'))?.payload.back, true);
    assert.equal(await rowOf(other, 'Grant', 'g-old'), undefined);
  });

  test('outside a request, a write goes out at once', async () => {
    await new Adapter('Grant').upsert('g-outside', { kind: 'Grant', jti: 'g-outside' }, 600);
    assert.ok(await rowOf(other, 'Grant', 'g-outside'));
  });

  test('a consume is immediate, and a row the request holds goes out before it', async () => {
    const codes = new Adapter('AuthorizationCode');
    route = async () => {
      await codes.upsert('code-1', { kind: 'AuthorizationCode', grantId: 'g-c' }, 60);
      const before = await rowOf(other, 'AuthorizationCode', hashId('code-1'));
      await codes.consume('code-1');
      const consumed = await rowOf(other, 'AuthorizationCode', hashId('code-1'));
      const again = await codes.consume('code-1').then(
        () => 'consumed twice',
        (err: Error) => err.name,
      );
      return { before: before ?? null, consumedAt: consumed?.consumed_at ?? null, again };
    };
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.before, null);
    assert.ok(body.consumedAt, 'consumed in the database during the request');
    assert.equal(body.again, 'InvalidGrant');
  });

  test('the response arrives only once its writes are committed', async () => {
    // Each write of the request takes 200 ms to commit: a response sent before would be seen
    // here before its row.
    await trap(other, 'Grant', 'slow');
    const grants = new Adapter('Grant');
    route = async () => {
      await Promise.all(
        ['c-1', 'c-2', 'c-3'].map((id) => grants.upsert(id, { kind: 'Grant', jti: id }, 600)),
      );
    };
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    for (const id of ['c-1', 'c-2', 'c-3'])
      assert.ok(await rowOf(other, 'Grant', id), `${id} is committed when the response arrives`);
    await res.arrayBuffer();
  });
});

describe('write-behind at the protocol and the login steps', { skip }, () => {
  let server: TestServer;
  let other: pg.Client;
  let bank: Awaited<ReturnType<typeof seedBank>>;
  const logs: string[] = [];
  const authUrl = () => bank.authorizationUrl({ state: 'write-behind' });
  const interactionCount = async () =>
    Number(
      (await other.query("select count(*) as n from oidc_artifacts where model = 'Interaction'"))
        .rows[0].n,
    );

  before(async () => {
    server = await startTestServer({ logs });
    bank = await seedBank(server);
    other = await otherConnection(server.db.url!);
  });
  after(async () => {
    await untrap(other);
    await other.end();
    await server.close();
  });
  afterEach(() => untrap(other));

  test('the redirect to the login page arrives once its interaction is committed', async () => {
    await trap(other, 'Interaction', 'slow');
    const browser = new HttpBrowser({ accept: 'text/html' });
    const started = await browser.request(authUrl());
    assert.equal(started.status, 303);
    const uid = new URL(started.location!).pathname.split('/').pop()!;
    assert.ok(await rowOf(other, 'Interaction', hashId(uid)), 'the interaction is committed');
  });

  test('the database lost during the flush: 503, no redirect, no cookie, nothing written', async () => {
    await trap(other, 'Interaction', 'disconnect');
    const before = await interactionCount();
    logs.length = 0;
    const res = await fetch(authUrl(), { redirect: 'manual', headers: { accept: 'text/html' } });
    const html = await res.text();
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '2');
    assert.equal(res.headers.get('location'), null);
    assert.equal(res.headers.get('set-cookie'), null);
    assert.match(html, /Temporarily unavailable/);
    assert.doesNotMatch(html, /Error:|at \S+:\d+|oidc_artifacts|terminat/i);
    assert.equal(await interactionCount(), before, 'no interaction was written');
    assert.ok(logs.some((l) => l.includes('"service unavailable"')));
    assert.ok(!logs.some((l) => /\bat \S+:\d+:\d+/.test(l)), 'no stack frame is logged');

    // The same server answers again once the database does.
    await untrap(other);
    const browser = new HttpBrowser({ accept: 'text/html' });
    assert.equal((await browser.request(authUrl())).status, 303);
  });

  test('a login step whose flush fails answers the error page and its interaction is unchanged', async () => {
    const browser = new HttpBrowser({ accept: 'text/html' });
    const login = await browser.open(authUrl(), server.issuer);
    assert.match(login.html, /autocomplete="current-password"/);
    const uid = new URL(login.url).pathname.split('/').pop()!;
    const stored = await rowOf(other, 'Interaction', hashId(uid));
    assert.ok(stored && !stored.payload.result);

    await trap(other, 'Interaction', 'refuse');
    const events = async () =>
      Number((await other.query('select count(*) as n from audit_events')).rows[0].n);
    const eventsBefore = await events();
    logs.length = 0;
    const page = await browser.submit(login, /\/login$/, {
      email: bank.alice.email,
      password: PASSWORD,
    });
    assert.equal(page.status, 500);
    assert.equal(page.location, undefined);
    assert.doesNotMatch(page.html, /refused by the test|oidc_artifacts|Error:|at \S+:\d+/);
    assert.ok(!logs.some((l) => /\bat \S+:\d+:\d+/.test(l)), 'no stack frame is logged');
    const after = await rowOf(other, 'Interaction', hashId(uid));
    assert.deepEqual(after?.payload, stored.payload, 'the interaction is as it was');
    // The step's audit event rode in the failed statement: no sign-in is recorded that did not
    // happen, and the event not written is logged with its action.
    assert.equal(await events(), eventsBefore, 'no audit event was written');
    assert.ok(logs.some((l) => /"action":"login.success".*"audit write failed"/.test(l)));
  });
});
