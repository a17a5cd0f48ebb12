// The artefact store's per-turn batches, on real PostgreSQL and on the embedded database: what
// many callers ask in one turn goes out as one statement, each caller gets its own answer, two
// consumes or claims of one key still have exactly one winner, and one bad row fails alone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../../src/clock.ts';
import {
  type ArtifactStore,
  type ArtifactWrite,
  createArtifactStore,
} from '../../src/oidc/artifactStore.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const write = (model: string, key: string, extra: Partial<ArtifactWrite> = {}): ArtifactWrite => ({
  model,
  key,
  payload: { kind: model, n: key },
  grantId: null,
  sessionUid: null,
  userCode: null,
  accountId: null,
  clientId: null,
  expiresAt: null,
  ...extra,
});

const N = 50;
const keys = (prefix: string) => Array.from({ length: N }, (_, i) => `${prefix}-${i}`);

for (const kind of ['postgres', 'embedded'] as const) {
  if (kind === 'postgres' && !process.env.TEST_DATABASE_URL) continue;
  describe(`artefact batches on ${kind} PostgreSQL`, () => {
    let db: TestDatabase;
    let store: ArtifactStore;
    const clock = manualClock(Date.UTC(2026, 0, 1));

    before(async () => {
      db = await createTestDatabase(kind);
      store = createArtifactStore({
        knex: db.knex,
        clock,
        clockToleranceSeconds: 15,
        prepared: kind === 'postgres',
      });
    });
    after(() => db.drop());

    /** Round trips `work` made (counted on real PostgreSQL connections only). */
    async function roundTrips(work: () => Promise<unknown>): Promise<number | undefined> {
      const before = db.counter.roundTrips;
      await work();
      return kind === 'postgres' ? db.counter.roundTrips - before : undefined;
    }

    test('saves of one turn are one statement; finds of one turn are one, each its own row', async () => {
      const saved = await roundTrips(() =>
        Promise.all(keys('at').map((k) => store.upsert(write('AccessToken', k)))),
      );
      if (saved !== undefined) assert.equal(saved, 1);

      let found: Awaited<ReturnType<ArtifactStore['find']>>[] = [];
      const read = await roundTrips(async () => {
        found = await Promise.all([
          ...keys('at').map((k) => store.find('AccessToken', k)),
          store.find('AccessToken', 'at-0'),
          store.find('AccessToken', 'missing'),
        ]);
      });
      if (read !== undefined) assert.equal(read, 1);
      assert.deepEqual(
        found.map((r) => r?.payload.n),
        [...keys('at'), 'at-0', undefined],
      );
      assert.notEqual(found[0]!.payload, found[N]!.payload, 'two askers of one key: two copies');
    });

    test('a key saved twice in one turn keeps the last save', async () => {
      await Promise.all([
        store.upsert(write('Grant', 'g-twice', { payload: { v: 1 } })),
        store.upsert(write('Grant', 'g-twice', { payload: { v: 2 } })),
      ]);
      assert.deepEqual((await store.find('Grant', 'g-twice'))?.payload, { v: 2 });
    });

    test('a refresh token comes with its Grant and Session, other models alone', async () => {
      await store.upsertMany([
        write('Grant', 'g1'),
        write('Session', 's1', { sessionUid: 'uid-1' }),
        write('RefreshToken', 'rt1', {
          grantId: 'g1',
          payload: { expiresWithSession: true, sessionUid: 'uid-1' },
        }),
        write('AccessToken', 'at-g1', { grantId: 'g1' }),
      ]);
      const [rt, at] = await Promise.all([
        store.findToken('RefreshToken', 'rt1'),
        store.findToken('AccessToken', 'at-g1'),
      ]);
      assert.deepEqual(rt.companions.map((c) => [c.part, c.payload.n]).sort(), [
        ['grant', 'g1'],
        ['session', 's1'],
      ]);
      assert.equal(at.row?.payload.n, 'at-g1');
      assert.deepEqual(at.companions, []);
    });

    test(`${N} consumes of one code in one turn: exactly one wins, in one statement`, async () => {
      await store.upsert(write('AuthorizationCode', 'code-1'));
      let results: boolean[] = [];
      const trips = await roundTrips(async () => {
        results = await Promise.all(
          Array.from({ length: N }, () => store.consume('AuthorizationCode', 'code-1')),
        );
      });
      if (trips !== undefined) assert.equal(trips, 1);
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await store.consume('AuthorizationCode', 'code-1'), false, 'and never again');
      assert.ok((await store.find('AuthorizationCode', 'code-1'))?.consumed_at);
    });

    test('consumes of different keys in one turn each win once', async () => {
      await store.upsertMany(keys('c').map((k) => write('AuthorizationCode', k)));
      const results = await Promise.all(
        [...keys('c'), ...keys('c')].map((k) => store.consume('AuthorizationCode', k)),
      );
      assert.deepEqual(results, [...keys('c').map(() => true), ...keys('c').map(() => false)]);
    });

    test(`${N} replay claims of one jti in one turn: exactly one is new`, async () => {
      const until = new Date(clock.now() + 60_000);
      const results = await Promise.all(
        Array.from({ length: N }, () => store.claimReplay('jti-1', { iat: 1 }, until)),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await store.claimReplay('jti-1', { iat: 1 }, until), false);
      assert.deepEqual((await store.findReplay('jti-1'))?.payload, { iat: 1 });
    });

    test('one bad row fails only its own caller, with the error it has alone', async () => {
      // PostgreSQL's jsonb refuses the NUL character: this save fails whatever it is batched with.
      const bad = write('Grant', 'bad', { payload: { text: 'a\u0000b' } });
      const alone = await store.upsert(bad).then(
        () => undefined,
        (err: { code?: string; message?: string }) => ({ code: err.code, message: err.message }),
      );
      assert.ok(alone?.code?.startsWith('22'), `refused alone: ${JSON.stringify(alone)}`);

      const settled = await Promise.allSettled([
        ...keys('ok').map((k) => store.upsert(write('Grant', k))),
        store.upsert(bad),
      ]);
      assert.deepEqual(
        settled.slice(0, N).map((s) => s.status),
        keys('ok').map(() => 'fulfilled'),
      );
      const failed = settled[N] as PromiseRejectedResult;
      assert.equal(failed.status, 'rejected');
      assert.deepEqual({ code: failed.reason.code, message: failed.reason.message }, alone);
      const rows = await Promise.all(keys('ok').map((k) => store.find('Grant', k)));
      assert.ok(
        rows.every((r) => r !== undefined),
        'the good rows were saved',
      );
      assert.equal(await store.find('Grant', 'bad'), undefined);
    });
  });
}
