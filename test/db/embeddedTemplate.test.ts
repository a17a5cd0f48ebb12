// The embedded database template (src/db/embeddedTemplate.ts): a data directory made from it
// has exactly the schema that applying every migration gives, and a directory that holds
// anything is never overwritten.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { connectDatabase, type Knex } from '../../src/db/connect.ts';
import {
  packDirectory,
  seedFromTemplate,
  unpackInto,
  usableTemplate,
} from '../../src/db/embeddedTemplate.ts';
import { migrateLatest, migrationNames, pendingMigrations } from '../../src/db/migrate.ts';

/** What pg_dump would tell apart: tables, columns, indexes, constraints, functions, migrations. */
async function catalogue(knex: Knex) {
  const q = async (sql: string) => (await knex.raw(sql)).rows;
  return {
    columns: await q(`select table_name, column_name, data_type, is_nullable, column_default
      from information_schema.columns where table_schema = 'public' order by 1, 2`),
    indexes: await q(
      `select indexname, indexdef from pg_indexes where schemaname = 'public' order by 1`,
    ),
    constraints:
      await q(`select conrelid::regclass::text as tbl, conname, pg_get_constraintdef(oid) as def
      from pg_constraint where connamespace = 'public'::regnamespace order by 1, 2`),
    functions: await q(`select proname, pg_get_functiondef(oid) as def from pg_proc
      where pronamespace = 'public'::regnamespace order by 1`),
    migrations: await q('select name from schema_migrations order by name'),
  };
}

async function catalogueOf(dir: string) {
  const db = await connectDatabase({ embeddedDir: dir });
  try {
    assert.deepEqual(await pendingMigrations(db.knex), []);
    return await catalogue(db.knex);
  } finally {
    await db.close();
  }
}

describe('embedded database template', () => {
  test('a new data directory (from the built template when there is one) equals every migration applied', async () => {
    // Every migration applied on a database made by initdb (in memory: never from the template).
    const fresh = await connectDatabase({});
    let expected: Awaited<ReturnType<typeof catalogue>>;
    try {
      await migrateLatest(fresh.knex);
      expected = await catalogue(fresh.knex);
    } finally {
      await fresh.close();
    }
    assert.equal(expected.migrations.length, migrationNames().length);
    assert.ok(expected.columns.length > 50);

    // A new DATA_DIR: seeded from dist/embedded-template.tar.gz when `npm run build` made one.
    const seeded = mkdtempSync(join(tmpdir(), 'pc-tpl-a-'));
    const db = await connectDatabase({ embeddedDir: seeded });
    try {
      await migrateLatest(db.knex);
    } finally {
      await db.close();
    }
    assert.deepEqual(await catalogueOf(seeded), expected);

    // The template's own packing: a copy of a data directory is the same database.
    const copy = mkdtempSync(join(tmpdir(), 'pc-tpl-b-'));
    unpackInto(packDirectory(join(seeded, 'pgdata')), join(copy, 'pgdata'));
    assert.deepEqual(await catalogueOf(copy), expected);
  });

  test('a data directory that holds anything is left alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pc-tpl-d-'));
    mkdirSync(join(dir, 'pgdata'));
    writeFileSync(join(dir, 'pgdata', 'PG_VERSION'), '18\n');
    assert.equal(seedFromTemplate(join(dir, 'pgdata'), migrationNames()), false);
    assert.equal(readFileSync(join(dir, 'pgdata', 'PG_VERSION'), 'utf8'), '18\n');
  });

  test('a template naming a migration that is not here is not used', () => {
    assert.equal(usableTemplate(['202001010000_elsewhere.ts']), undefined);
  });
});
