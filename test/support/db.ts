// A fresh, migrated database per test file: a new database on TEST_DATABASE_URL's server when
// that is set, otherwise an in-memory embedded PostgreSQL. Files therefore run in parallel.
import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { connectDatabase, type Database } from '../../src/db/connect.ts';
import { migrateLatest } from '../../src/db/migrate.ts';

export interface TestDatabase extends Database {
  /** Connection URL of this database (undefined for the embedded one). */
  url: string | undefined;
  drop(): Promise<void>;
}

export function testDatabaseKind(): 'postgres' | 'embedded' {
  return process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded';
}

export async function createTestDatabase(kind = testDatabaseKind()): Promise<TestDatabase> {
  if (kind === 'embedded') {
    const db = await connectDatabase({});
    await migrateLatest(db.knex);
    return { ...db, url: undefined, drop: () => db.close() };
  }
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `portcullis_test_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create database "${name}"`);
  await admin.destroy();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = await connectDatabase({ url: url.href, poolMax: 20 });
  await migrateLatest(db.knex);
  return {
    ...db,
    url: url.href,
    async drop() {
      await db.close();
      const cleanup = knexFactory({
        client: 'pg',
        connection: serverUrl,
        pool: { min: 0, max: 1 },
      });
      await cleanup.raw(`drop database if exists "${name}" with (force)`);
      await cleanup.destroy();
    },
  };
}
