// Whether dist/ (`npm run build`) holds the current sources: the newest modification time under
// src/ and migrations/ against the build's stamp, a few milliseconds of stat calls per start.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');
export const DIST = join(ROOT, 'dist');
export const BUILD_STAMP = join(DIST, 'build.json');
export const SOURCE_DIRS = ['src', 'migrations'];

/** Every TypeScript source that `npm run build` compiles. */
export function sourceFiles() {
  return SOURCE_DIRS.flatMap((dir) =>
    readdirSync(join(ROOT, dir), { recursive: true })
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
      .map((name) => join(ROOT, dir, name)),
  );
}

/** Every other file of those folders (message catalogues...): `npm run build` copies them as they are. */
export function assetFiles() {
  return SOURCE_DIRS.flatMap((dir) =>
    readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && !entry.name.endsWith('.ts'))
      .map((entry) => join(entry.parentPath ?? entry.path, entry.name)),
  );
}

/** 'fresh', 'missing' or 'stale' (a source, or its folder, changed after the build). */
export function distState() {
  let built;
  try {
    built = statSync(BUILD_STAMP).mtimeMs;
  } catch {
    return 'missing';
  }
  for (const dir of SOURCE_DIRS) {
    const root = join(ROOT, dir);
    // A folder's time changes when a file in it is added, removed or renamed.
    if (statSync(root).mtimeMs > built) return 'stale';
    for (const name of readdirSync(root, { recursive: true })) {
      if (statSync(join(root, name)).mtimeMs > built) return 'stale';
    }
  }
  return 'fresh';
}
