// A small Koa app around a real artefact store on a PostgreSQL database of its own, for the tests
// of the write-behind and the read-ahead: each request runs inside holdArtifactWrites (with
// `inner`, e.g. the read-ahead), then `handle`, whose result is the JSON body. `other` is a
// connection of the test's own, outside the store's pool, to read and change rows from outside.
import { createServer } from 'node:http';
import Koa from 'koa';
import pg from 'pg';
import { systemClock } from '../../src/clock.ts';
import type { AheadReads } from '../../src/db/aheadReads.ts';
import { createArtifactAdapter, hashId } from '../../src/oidc/adapter.ts';
import { type ArtifactStore, createArtifactStore } from '../../src/oidc/artifactStore.ts';
import { readAheadLoginStep } from '../../src/oidc/readAhead.ts';
import { failToErrorPages, holdArtifactWrites } from '../../src/oidc/writeBehind.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

export interface ArtifactApp {
  db: TestDatabase;
  artifacts: ArtifactStore;
  Adapter: ReturnType<typeof createArtifactAdapter>;
  other: pg.Client;
  /** The app's address, e.g. http://127.0.0.1:PORT */
  base: string;
  close(): Promise<void>;
}

/** The session cookie the read-ahead of `readAheadOf` reads. */
export const TEST_SESSION_COOKIE = 'portcullis.session';

/** The login-step read-ahead (src/oidc/readAhead.ts) over `store`, as `inner`. */
export const readAheadOf = (store: ArtifactStore): Koa.Middleware =>
  readAheadLoginStep({
    readAhead: (asks) => store.readAhead(asks),
    keyOf: hashId,
    sessionCookie: () => TEST_SESSION_COOKIE,
  });

export async function startArtifactApp(options: {
  inner?: (artifacts: ArtifactStore) => Koa.Middleware;
  handle: (ctx: Koa.Context) => Promise<unknown>;
  /** Other stores' reads riding in the finds (src/db/aheadReads.ts). */
  reads?: AheadReads;
}): Promise<ArtifactApp> {
  const db = await createTestDatabase('postgres');
  const artifacts = createArtifactStore({
    knex: db.knex,
    clock: systemClock,
    clockToleranceSeconds: 15,
    prepared: true,
    ...(options.reads && { reads: options.reads }),
  });
  const Adapter = createArtifactAdapter({ artifacts, clock: systemClock });
  const other = new pg.Client({ connectionString: db.url! });
  await other.connect();
  const koa = new Koa();
  koa.use(
    holdArtifactWrites(artifacts.requestWrites, failToErrorPages, options.inner?.(artifacts)),
  );
  koa.use(async (ctx) => {
    ctx.body = (await options.handle(ctx)) ?? {};
  });
  const http = createServer(koa.callback());
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    db,
    artifacts,
    Adapter,
    other,
    base: `http://127.0.0.1:${(http.address() as { port: number }).port}`,
    async close() {
      await new Promise((resolve) => http.close(resolve));
      await other.end();
      await db.drop();
    },
  };
}
