// Applies the knex migrations in migrations/ (one file per schema change, applied in name order).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Knex } from 'knex';

// From src/db/ the migrations are ../../migrations/*.ts; compiled (dist/db/, `npm run build`)
// they are ../migrations/*.js. Either way a migration keeps its .ts name in schema_migrations.
const HERE = dirname(fileURLToPath(import.meta.url));
const COMPILED = import.meta.url.endsWith('.js');
const MIGRATIONS_DIR = COMPILED
  ? join(HERE, '..', 'migrations')
  : join(HERE, '..', '..', 'migrations');
const fileOf = (name: string) => (COMPILED ? name.replace(/\.ts$/, '.js') : name);

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down?(knex: Knex): Promise<void>;
}

/** Every migration's name (as schema_migrations records it), in the order they apply. */
export function migrationNames(): string[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{12}_[a-z0-9_]+\.(ts|js)$/.test(f))
    .map((f) => f.replace(/\.js$/, '.ts'))
    .sort();
}

/** Reads migrations/*.ts itself, so knex never needs to know about TypeScript. */
class DirectoryMigrationSource implements Knex.MigrationSource<string> {
  async getMigrations(): Promise<string[]> {
    return migrationNames();
  }
  getMigrationName(migration: string): string {
    return migration;
  }
  async getMigration(migration: string): Promise<Knex.Migration> {
    const mod = (await import(
      pathToFileURL(join(MIGRATIONS_DIR, fileOf(migration))).href
    )) as MigrationModule;
    return { up: mod.up, down: mod.down ?? (async () => {}) };
  }
}

const migratorConfig = (): Knex.MigratorConfig => ({
  migrationSource: new DirectoryMigrationSource(),
  tableName: 'schema_migrations',
});

/**
 * True when schema_migrations already lists every migration: one select, where knex's migrator
 * would create and lock its tables and read every migration module (the common case at a start).
 */
async function current(knex: Knex): Promise<boolean> {
  const found = await knex.raw("select to_regclass('schema_migrations') is not null as present");
  if (!found.rows[0]?.present) return false; // a new database
  const rows = (await knex('schema_migrations').select('name')) as { name: string }[];
  const applied = new Set(rows.map((r) => r.name));
  const names = migrationNames();
  // Exactly these: one unknown here is left to knex, which refuses such a database.
  return applied.size === names.length && names.every((name) => applied.has(name));
}

/** Applies every pending migration; returns the names applied. */
export async function migrateLatest(knex: Knex): Promise<string[]> {
  if (await current(knex)) return [];
  const [, applied] = (await knex.migrate.latest(migratorConfig())) as [number, string[]];
  return applied;
}

/** Names of migrations not yet applied (empty when the schema is current). */
export async function pendingMigrations(knex: Knex): Promise<string[]> {
  if (await current(knex)) return [];
  const [, pending] = (await knex.migrate.list(migratorConfig())) as [
    unknown[],
    { file: string }[],
  ];
  return pending.map((p) => p.file);
}
