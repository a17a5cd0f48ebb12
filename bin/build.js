#!/usr/bin/env node
// `npm run build`: transpiles src/ and migrations/ to dist/ with esbuild, file by file (no bundle,
// so stack traces name the file they came from and import.meta paths still resolve), so
// production runs plain JavaScript instead of compiling TypeScript through tsx at every start.
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform } from 'esbuild';
import { assetFiles, BUILD_STAMP, DIST, ROOT, SOURCE_DIRS, sourceFiles } from './freshness.js';

// Relative specifiers of static and dynamic imports and re-exports: './x.ts' -> './x.js'.
const TS_SPECIFIER = /((?:\bfrom|\bimport)\s*\(?\s*)(['"])(\.{1,2}\/[^'"\n]+?)\.ts\2/g;

/** The same compiler settings tsx applies in development (tsconfig.json). */
const tsconfigRaw = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8'));

async function compile(file) {
  const source = readFileSync(file, 'utf8');
  const { code } = await transform(source, {
    loader: 'ts',
    format: 'esm',
    target: 'node20',
    platform: 'node',
    sourcefile: relative(ROOT, file),
    tsconfigRaw,
  });
  return code.replace(TS_SPECIFIER, '$1$2$3.js$2');
}

/**
 * A new embedded database's starting point (src/db/embeddedTemplate.ts): PGlite's initdb and
 * every migration, run once here with the compiled modules instead of at each first start.
 */
async function buildTemplate() {
  const started = performance.now();
  const load = (path) => import(pathToFileURL(join(DIST, path)).href);
  const { connectDatabase } = await load('db/connect.js');
  const { migrateLatest, migrationNames } = await load('db/migrate.js');
  const { writeTemplate } = await load('db/embeddedTemplate.js');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-template-'));
  try {
    const db = await connectDatabase({ embeddedDir: dir });
    try {
      await migrateLatest(db.knex);
    } finally {
      await db.close();
    }
    const bytes = writeTemplate(join(dir, 'pgdata'), migrationNames());
    return { bytes, ms: Math.round(performance.now() - started) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function build({ quiet = false, template = true } = {}) {
  const started = performance.now();
  // Built beside dist/ and swapped in, so a process starting meanwhile never sees half a build.
  const next = `${DIST}.${process.pid}`;
  rmSync(next, { recursive: true, force: true });
  const files = sourceFiles();
  // src/x.ts -> dist/x.js and migrations/x.ts -> dist/migrations/x.js: src/http/views.ts finds
  // ../../views from either place, src/db/migrate.ts picks the migrations beside it.
  await Promise.all(
    files.map(async (file) => {
      const rel = relative(ROOT, file);
      const out = rel.startsWith('src/') ? join(next, rel.slice(4)) : join(next, rel);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out.replace(/\.ts$/, '.js'), await compile(file));
    }),
  );
  // What is not TypeScript (the message catalogues) goes beside the modules that read it.
  for (const file of assetFiles()) {
    const rel = relative(ROOT, file);
    const out = rel.startsWith('src/') ? join(next, rel.slice(4)) : join(next, rel);
    mkdirSync(dirname(out), { recursive: true });
    copyFileSync(file, out);
  }
  writeFileSync(
    join(next, basename(BUILD_STAMP)),
    `${JSON.stringify({ builtAt: new Date().toISOString(), files: files.length, from: SOURCE_DIRS })}\n`,
  );
  rmSync(DIST, { recursive: true, force: true });
  renameSync(next, DIST);
  if (!quiet)
    process.stdout.write(
      `built ${files.length} files into dist/ in ${Math.round(performance.now() - started)} ms\n`,
    );
  if (template) {
    // Only a head start for the first `npm start` on the embedded database: without it that start
    // runs the migrations itself, so a template that cannot be made never fails the install.
    try {
      const made = await buildTemplate();
      if (!quiet)
        process.stdout.write(
          `built the embedded database template (${(made.bytes / 1e6).toFixed(1)} MB) in ${made.ms} ms\n`,
        );
    } catch (err) {
      process.stderr.write(
        `the embedded database template was not built (${err.message}): the first start on the embedded database runs the migrations instead\n`,
      );
    }
  }
  return files.length;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await build({ template: !process.argv.includes('--no-template') });
  } catch (err) {
    process.stderr.write(`build failed: ${err.message}\n`);
    process.exitCode = 1;
  }
}
