// A new embedded database starts as a copy of one made at build time (`npm run build`: PGlite's
// initdb plus every migration, packed as dist/embedded-template.tar.gz) instead of running initdb
// and the migrations again: some 12 s of CPU of PGlite on the first `npm start`, then a few ms.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

// From src/db/ and from dist/db/ alike, the package root is two folders up.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TEMPLATE_FILE = join(ROOT, 'dist', 'embedded-template.tar.gz');
const TEMPLATE_FACTS = join(ROOT, 'dist', 'embedded-template.json');

export interface TemplateFacts {
  /** The PGlite that made it: another version may keep another catalogue layout. */
  pglite: string;
  /** The migrations it holds (schema_migrations); newer ones are applied on top as usual. */
  migrations: string[];
}

export function pgliteVersion(): string {
  // The package exports no ./package.json: it is found beside the entry point's dist/ folder.
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

// ---- ustar: regular files and folders only, names under 100 bytes (a data directory's are) ----

function header(name: string, size: number, mode: number, type: '0' | '5'): Buffer {
  const h = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number) =>
    h.write(value.slice(0, length), offset, 'utf8');
  const octal = (n: number, length: number) => `${n.toString(8).padStart(length - 1, '0')}\0`;
  if (Buffer.byteLength(name) >= 100) throw new Error(`name too long for the template: ${name}`);
  field(name, 0, 100);
  field(octal(mode & 0o7777, 8), 100, 8);
  field(octal(0, 8), 108, 8);
  field(octal(0, 8), 116, 8);
  field(octal(size, 12), 124, 12);
  field(octal(0, 12), 136, 12);
  field('        ', 148, 8);
  field(type, 156, 1);
  field('ustar\u000000', 257, 8);
  let sum = 0;
  for (const byte of h) sum += byte;
  field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/** The folder `dir` as a gzipped tar (folders first, so extraction can create them in order). */
export function packDirectory(dir: string): Buffer {
  const parts: Buffer[] = [];
  const walk = (abs: string) => {
    for (const name of readdirSync(abs).sort()) {
      const path = join(abs, name);
      const rel = relative(dir, path);
      const st = statSync(path);
      if (st.isDirectory()) {
        parts.push(header(`${rel}/`, 0, st.mode, '5'));
        walk(path);
      } else if (st.isFile()) {
        const data = readFileSync(path);
        parts.push(header(rel, data.length, st.mode, '0'), data);
        const pad = (512 - (data.length % 512)) % 512;
        if (pad) parts.push(Buffer.alloc(pad));
      }
    }
  };
  walk(dir);
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts), { level: 6 });
}

/** Extracts a tar made by packDirectory into `dir` (created when missing). */
export function unpackInto(archive: Buffer, dir: string): void {
  const tar = gunzipSync(archive);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (let at = 0; at + 512 <= tar.length; ) {
    const h = tar.subarray(at, at + 512);
    if (h[0] === 0) break;
    const name = h.toString('utf8', 0, 100).replace(/\0.*$/s, '');
    const size = Number.parseInt(h.toString('ascii', 124, 136).replace(/\0.*$/s, '').trim(), 8);
    const mode = Number.parseInt(h.toString('ascii', 100, 108).replace(/\0.*$/s, '').trim(), 8);
    const type = String.fromCharCode(h[156] ?? 0);
    if (name.split('/').includes('..') || name.startsWith('/'))
      throw new Error(`unsafe name in the embedded database template: ${name}`);
    const target = join(dir, name);
    at += 512;
    if (type === '5') mkdirSync(target, { recursive: true, mode: mode || 0o700 });
    else {
      writeFileSync(target, tar.subarray(at, at + size), { mode: mode || 0o600 });
      at += Math.ceil(size / 512) * 512;
    }
  }
}

/** The template's facts when it exists and suits this PGlite and these migrations. */
export function usableTemplate(knownMigrations: readonly string[]): TemplateFacts | undefined {
  if (!existsSync(TEMPLATE_FILE) || !existsSync(TEMPLATE_FACTS)) return undefined;
  try {
    const facts = JSON.parse(readFileSync(TEMPLATE_FACTS, 'utf8')) as TemplateFacts;
    if (facts.pglite !== pgliteVersion()) return undefined;
    // A migration it holds that is gone or renamed here: knex would refuse the database.
    const known = new Set(knownMigrations);
    if (!facts.migrations.every((m) => known.has(m))) return undefined;
    return facts;
  } catch {
    return undefined;
  }
}

/**
 * Seeds an empty data directory from the template; false when there is none (or it does not
 * suit), and PGlite runs initdb as before. Never touches a directory that holds a database.
 */
export function seedFromTemplate(pgdata: string, knownMigrations: readonly string[]): boolean {
  if (existsSync(join(pgdata, 'PG_VERSION'))) return false;
  if (existsSync(pgdata) && readdirSync(pgdata).length > 0) return false;
  if (!usableTemplate(knownMigrations)) return false;
  unpackInto(readFileSync(TEMPLATE_FILE), pgdata);
  return true;
}

/** Writes the template and its facts (bin/build.js, from a freshly migrated data directory). */
export function writeTemplate(pgdata: string, migrations: string[]): number {
  const archive = packDirectory(pgdata);
  writeFileSync(TEMPLATE_FILE, archive);
  const facts: TemplateFacts = { pglite: pgliteVersion(), migrations };
  writeFileSync(TEMPLATE_FACTS, `${JSON.stringify(facts, null, 2)}\n`);
  return archive.length;
}
