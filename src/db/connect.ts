// One knex handle over PostgreSQL (DATABASE_URL) or, without it, embedded PostgreSQL (PGlite)
// kept under DATA_DIR, so the server runs on a machine with no database server.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import pg from 'pg';

export type { Knex };

export interface Database {
  knex: Knex;
  kind: 'postgres' | 'embedded';
  /** A short description that never contains credentials. */
  describe: string;
  close(): Promise<void>;
}

// Return BIGINT (int8) as a JS number: our counters and ids stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

export interface DatabaseOptions {
  url?: string | undefined;
  poolMax?: number;
  /** Directory of the embedded database; undefined means in memory (tests). */
  embeddedDir?: string | undefined;
}

export function connectDatabase(options: DatabaseOptions): Database {
  if (options.url) {
    const knex = knexFactory({
      client: 'pg',
      connection: { connectionString: options.url, application_name: 'portcullis' },
      pool: { min: 0, max: options.poolMax ?? 10 },
      acquireConnectionTimeout: 10_000,
    });
    const url = new URL(options.url);
    return {
      knex,
      kind: 'postgres',
      describe: `postgres://${url.hostname}:${url.port || 5432}${url.pathname}`,
      close: () => knex.destroy(),
    };
  }
  let connection: { filename: string } | Record<string, never> = {};
  let describe = 'embedded PostgreSQL (in memory)';
  if (options.embeddedDir) {
    const dir = resolve(join(options.embeddedDir, 'pgdata'));
    mkdirSync(dir, { recursive: true });
    connection = { filename: dir };
    describe = `embedded PostgreSQL in ${dir}`;
  }
  const knex = knexFactory({
    // biome-ignore lint/suspicious/noExplicitAny: knex-pglite's client class is typed loosely
    client: ClientPgLite as any,
    dialect: 'postgres',
    connection,
  });
  return { knex, kind: 'embedded', describe, close: () => knex.destroy() };
}

/** Throws a one-line error when the database cannot be reached. */
export async function checkDatabase(db: Database): Promise<void> {
  await db.knex.raw('select 1');
}
