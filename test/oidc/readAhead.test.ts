// The read-ahead of a login step (src/oidc/readAhead.ts): the Interaction named by the path and
// the Session named by the cookie come in one statement with the Grants they name, and answer
// that request's finds only: once each, for the exact key asked, never another request's, and
// never over the request's own writes. Real PostgreSQL and real HTTP; rows are changed from a
// connection of the test's own to tell a read-ahead row from the database's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type Koa from 'koa';
import type pg from 'pg';
import { type createArtifactAdapter, hashId } from '../../src/oidc/adapter.ts';
import type { ArtifactStore } from '../../src/oidc/artifactStore.ts';
import {
  type ArtifactApp,
  TEST_SESSION_COOKIE as COOKIE,
  readAheadOf,
  startArtifactApp,
} from '../support/artifactApp.ts';
import { type TestDatabase, testDatabaseKind } from '../support/db.ts';

const skip =
  testDatabaseKind() !== 'postgres' &&
  'needs TEST_DATABASE_URL (statements are counted on the pool, rows changed from outside)';

type Payload = Record<string, unknown>;

describe('read-ahead of a login step', { skip }, () => {
  let db: TestDatabase;
  let artifacts: ArtifactStore;
  let Adapter: ReturnType<typeof createArtifactAdapter>;
  let other: pg.Client;
  let base: string;
  let app: ArtifactApp;
  /** What the test's routes do, by path, set by each test. */
  const routes = new Map<string, (ctx: Koa.Context) => Promise<unknown>>();
  const interactions = () => new Adapter('Interaction');
  const sessions = () => new Adapter('Session');
  const grants = () => new Adapter('Grant');

  /** Changes a stored row's payload from outside the server (another instance, say). */
  const mark = (model: string, key: string, value: string) =>
    other.query(
      `update oidc_artifacts set payload = payload || jsonb_build_object('mark', $3::text)
       where model = $1 and id = $2`,
      [model, key, value],
    );

  /** Statements the server's pool ran during `work`, and its result. */
  async function counted<T>(work: () => Promise<T>): Promise<{ statements: number; value: T }> {
    const start = db.counter.statements;
    const value = await work();
    return { statements: db.counter.statements - start, value };
  }

  const get = async (path: string, cookie?: string) => {
    const res = await fetch(`${base}${path}`, {
      headers: cookie ? { cookie: `${COOKIE}=${cookie}` } : {},
    });
    assert.equal(res.status, 200, path);
    return (await res.json()) as Record<string, unknown>;
  };

  /** An interaction `uid` bound to session `sid` (uid `suid`) that holds grant `gid`. */
  async function seed(uid: string, sid: string, suid: string, gid: string, consented?: string) {
    await grants().upsert(
      gid,
      { kind: 'Grant', jti: gid, accountId: 'alice', mark: 'stored' },
      600,
    );
    if (consented)
      await grants().upsert(consented, { kind: 'Grant', jti: consented, mark: 'stored' }, 600);
    await sessions().upsert(
      sid,
      {
        kind: 'Session',
        uid: suid,
        accountId: 'alice',
        authorizations: { 'client-1': { sid: 'x', grantId: gid } },
        mark: 'stored',
      },
      600,
    );
    await interactions().upsert(
      uid,
      {
        kind: 'Interaction',
        uid,
        session: { uid: suid, accountId: 'alice' },
        ...(consented && { result: { consent: { grantId: consented } } }),
        mark: 'stored',
      },
      600,
    );
  }

  before(async () => {
    app = await startArtifactApp({
      inner: readAheadOf,
      handle: async (ctx) => {
        const route = routes.get(ctx.path.split('/').slice(0, 3).join('/'));
        return route ? route(ctx) : {};
      },
    });
    ({ db, artifacts, Adapter, other, base } = app);
  });
  after(() => app.close());

  test('the Interaction, the Session and the Grants they name come in one statement', async () => {
    await seed('i-one', 's-one', 'su-one', 'g-one', 'g-consented');
    routes.set('/auth/i-one', async () => ({
      found: await counted(async () => ({
        session: await sessions().find('s-one'),
        interaction: await interactions().find('i-one'),
        grant: await grants().find('g-one'),
        consented: await grants().find('g-consented'),
      })),
      // Served once: the Session went to find(), so findByUid reads the database.
      byUid: await counted(() => sessions().findByUid('su-one')),
    }));
    const start = db.counter.statements;
    const { found, byUid } = (await get('/auth/i-one', 's-one')) as Record<
      string,
      { statements: number; value: Record<string, Payload> }
    >;
    assert.equal(db.counter.statements - start, 2, 'the read-ahead, then findByUid');
    assert.equal(found?.statements, 0, 'every find was answered from the read-ahead');
    assert.equal(found?.value.session?.jti, 's-one');
    assert.equal(found?.value.interaction?.uid, 'i-one');
    assert.equal(found?.value.grant?.jti, 'g-one');
    assert.equal(found?.value.consented?.jti, 'g-consented');
    assert.equal(byUid?.statements, 1);
    assert.equal((byUid?.value as unknown as Payload | undefined)?.uid, 'su-one');
  });

  test('a read-ahead row is served once, for its own key, to its own request only', async () => {
    await seed('i-two', 's-two', 'su-two', 'g-two');
    let readAhead!: () => void;
    const ready = new Promise<void>((resolve) => (readAhead = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    routes.set('/interaction/i-two', async () => {
      readAhead();
      await released;
      const first = await counted(() => interactions().find('i-two'));
      const again = await counted(() => interactions().find('i-two'));
      // Asked by uid: the cookie's Session matches on its session_uid exactly.
      const otherUid = await counted(() => sessions().findByUid('su-other'));
      const byUid = await counted(() => sessions().findByUid('su-two'));
      return { first, again, otherUid, byUid };
    });
    // Another request, while the first holds its rows: it reads the database.
    routes.set('/other', async () => ({
      interaction: await counted(() => interactions().find('i-two')),
      session: await counted(() => sessions().find('s-two')),
      grant: await counted(() => grants().find('g-two')),
    }));
    // The same path with another browser's cookie: not the first one's Session either.
    routes.set('/interaction/i-two-b', async () => ({
      session: await counted(() => sessions().find('s-two')),
    }));

    const first = get('/interaction/i-two/consent', 's-two');
    await ready;
    // Changed in the database after the read-ahead: tells its rows from the database's.
    for (const [model, key] of [
      ['Interaction', hashId('i-two')],
      ['Session', hashId('s-two')],
      ['Grant', 'g-two'],
    ] as const)
      await mark(model, key, 'changed');
    const others = (await get('/other', 's-two')) as Record<
      string,
      { statements: number; value: Payload }
    >;
    for (const [name, found] of Object.entries(others)) {
      assert.equal(found.statements, 1, `${name}: read from the database`);
      assert.equal(found.value.mark, 'changed', `${name}: not the other request's read-ahead`);
    }
    const otherBrowser = (await get('/interaction/i-two-b', 's-unknown')) as Record<
      string,
      { statements: number; value: Payload }
    >;
    assert.equal(otherBrowser.session?.statements, 1);
    assert.equal(otherBrowser.session?.value.mark, 'changed');

    release();
    const own = (await first) as Record<string, { statements: number; value: Payload | null }>;
    assert.equal(own.first?.statements, 0, 'its own read-ahead');
    assert.equal(own.first?.value?.mark, 'stored');
    assert.equal(own.again?.statements, 1, 'served once: then the database');
    assert.equal(own.again?.value?.mark, 'changed');
    assert.equal(own.otherUid?.statements, 1, 'another uid is not the read-ahead Session');
    assert.equal(own.otherUid?.value ?? null, null);
    assert.equal(own.byUid?.statements, 0);
    assert.equal(own.byUid?.value?.uid, 'su-two');
  });

  test("the request's own writes win over what it read ahead", async () => {
    await seed('i-three', 's-three', 'su-three', 'g-three');
    routes.set('/interaction/i-three', async () => {
      const interaction = interactions();
      await interaction.upsert('i-three', { kind: 'Interaction', uid: 'i-three', mark: 'own' }, 60);
      const saved = await counted(() => interaction.find('i-three'));
      await sessions().destroy('s-three');
      const deleted = await counted(() => sessions().find('s-three'));
      const deletedByUid = await counted(() => sessions().findByUid('su-three'));
      await grants().upsert('g-three', { kind: 'Grant', jti: 'g-three', mark: 'own' }, 60);
      const grant = await counted(() => grants().find('g-three'));
      return { saved, deleted, deletedByUid, grant };
    });
    const own = (await get('/interaction/i-three', 's-three')) as Record<
      string,
      { statements: number; value: Payload | null }
    >;
    assert.equal(own.saved?.value?.mark, 'own');
    assert.equal(own.deleted?.value ?? null, null, 'deleted by the request: gone for it');
    assert.equal(own.deletedByUid?.value ?? null, null);
    assert.equal(own.grant?.value?.mark, 'own');
    for (const name of ['saved', 'deleted', 'grant'])
      assert.equal(own[name]?.statements, 0, `${name}: answered from the request's own writes`);
  });

  test('a row consumed or revoked by the request is read again, from the database', async () => {
    await seed('i-four', 's-four', 'su-four', 'g-four');
    routes.set('/interaction/i-four', async () => {
      await interactions().consume('i-four');
      const consumed = await counted(() => interactions().find('i-four'));
      await artifacts.revokeGrant('g-four');
      const revoked = await counted(() => grants().find('g-four'));
      return { consumed, revoked };
    });
    const own = (await get('/interaction/i-four', 's-four')) as Record<
      string,
      { statements: number; value: Payload | null }
    >;
    assert.equal(own.consumed?.statements, 1);
    assert.equal(typeof own.consumed?.value?.consumed, 'number');
    assert.equal(own.revoked?.statements, 1);
    assert.equal(own.revoked?.value ?? null, null);
  });

  test('outside a login step nothing is read ahead', async () => {
    await seed('i-five', 's-five', 'su-five', 'g-five');
    routes.set('/account/i-five', async () => counted(() => interactions().find('i-five')));
    const found = (await get('/account/i-five', 's-five')) as { statements: number };
    assert.equal(found.statements, 1);
  });
});
