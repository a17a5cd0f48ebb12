// One knex handle over PostgreSQL (DATABASE_URL) or, without it, embedded PostgreSQL (PGlite)
// kept under DATA_DIR, so the server runs on a machine with no database server.
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import {
  embeddedServerRunning,
  hostEmbeddedDatabase,
  lockDataDir,
  pgdataDir,
  prepareDataDir,
  socketConnection,
} from './embedded.ts';
import { countQueriesOf, createQueryCounter, type QueryCounter } from './queryCounter.ts';

export type { Knex };

export interface Database {
  knex: Knex;
  kind: 'postgres' | 'embedded';
  /** A short description that never contains credentials. */
  describe: string;
  /**
   * Settings for a connection of its own that LISTENs for notices (PostgreSQL only: the embedded
   * database's socket delivers a notice to the connection that sent it, not to listeners).
   */
  listenConnection?: pg.ClientConfig;
  /** Round trips and statements sent over the pool (PostgreSQL connections; see queryCounter.ts). */
  counter: QueryCounter;
  close(): Promise<void>;
}

// knex's own logger prints connection errors with stack traces; callers report errors themselves.
const quietLog = { warn() {}, error() {}, debug() {}, deprecate() {} };

// Return BIGINT (int8) as a JS number: our counters and ids stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

export interface DatabaseOptions {
  url?: string | undefined;
  poolMax?: number;
  /** Directory of the embedded database (DATA_DIR); undefined means in memory (tests). */
  embeddedDir?: string | undefined;
  /** The server: open the embedded database and serve it to the CLI on a socket. */
  hostEmbedded?: boolean;
}

function pgKnex(
  connection: Knex.PgConnectionConfig | string,
  poolMax: number,
  counter: QueryCounter,
): Knex {
  return knexFactory({
    client: 'pg',
    connection,
    pool: {
      min: 0,
      max: poolMax,
      // Every pooled connection counts its queries (knex's and the prepared statements').
      afterCreate(conn: pg.Client, done: (err: Error | null, conn: pg.Client) => void) {
        countQueriesOf(conn as never, counter);
        done(null, conn);
      },
    },
    acquireConnectionTimeout: 10_000,
    log: quietLog,
  });
}

/**
 * Loaded only when used: importing PGlite costs some 60 MB of resident memory, which a server on
 * a real PostgreSQL would otherwise carry for nothing.
 */
async function pgliteKnex(connection: { filename: string } | Record<string, never>): Promise<Knex> {
  const { default: ClientPgLite } = await import('knex-pglite');
  // biome-ignore lint/suspicious/noExplicitAny: knex-pglite's client class is typed loosely
  const PgLiteBase = ClientPgLite as any;
  /**
   * knex-pglite names a delete's command "DEL" (from knex's method name), so knex returns the
   * raw result instead of the number of rows deleted. Give knex the name PostgreSQL uses.
   */
  class EmbeddedClient extends PgLiteBase {
    processResponse(obj: { method?: string }, runner: unknown) {
      return super.processResponse(
        obj.method === 'del' ? { ...obj, method: 'delete' } : obj,
        runner,
      );
    }
  }
  return knexFactory({
    client: EmbeddedClient as unknown as typeof Knex.Client,
    dialect: 'postgres',
    connection,
    log: quietLog,
  });
}

export async function connectDatabase(options: DatabaseOptions): Promise<Database> {
  const poolMax = options.poolMax ?? 10;
  const counter = createQueryCounter();
  if (options.url) {
    const knex = pgKnex(
      { connectionString: options.url, application_name: 'portcullis' },
      poolMax,
      counter,
    );
    const url = new URL(options.url);
    return {
      knex,
      kind: 'postgres',
      counter,
      describe: `postgres://${url.hostname}:${url.port || 5432}${url.pathname}`,
      listenConnection: { connectionString: options.url },
      close: () => knex.destroy(),
    };
  }
  if (!options.embeddedDir) {
    const knex = await pgliteKnex({});
    return {
      knex,
      kind: 'embedded',
      counter,
      describe: 'embedded PostgreSQL (in memory)',
      close: () => knex.destroy(),
    };
  }

  const dir = options.embeddedDir;
  if (await embeddedServerRunning(dir)) {
    const knex = pgKnex(socketConnection(dir), poolMax, counter);
    return {
      knex,
      kind: 'embedded',
      counter,
      describe: `embedded PostgreSQL served from ${pgdataDir(dir)}`,
      close: () => knex.destroy(),
    };
  }
  if (options.hostEmbedded) {
    const host = await hostEmbeddedDatabase(dir);
    const knex = pgKnex(socketConnection(dir), poolMax, counter);
    return {
      knex,
      kind: 'embedded',
      counter,
      describe: `embedded PostgreSQL in ${pgdataDir(dir)}`,
      async close() {
        await knex.destroy();
        await host.stop();
      },
    };
  }
  const release = lockDataDir(dir);
  const knex = await pgliteKnex({ filename: prepareDataDir(dir) });
  return {
    knex,
    kind: 'embedded',
    counter,
    describe: `embedded PostgreSQL in ${pgdataDir(dir)}`,
    async close() {
      await knex.destroy();
      release();
    },
  };
}

/** Throws when the database cannot be reached. */
export async function checkDatabase(db: Database): Promise<void> {
  await db.knex.raw('select 1');
}
