#!/usr/bin/env node
// The `portcullis` command. Runs the compiled JavaScript in dist/ (`npm run build`, run by `npm
// install`/`npm ci`) when it holds the current sources; in development it falls back to the
// TypeScript sources through tsx. Production never runs tsx: a missing or stale dist/ is built.
import { availableParallelism } from 'node:os';
import { distState } from './freshness.js';
import { relaunchWithMemorySettings } from './memory.js';

// Argon2 runs on libuv's thread pool: one thread per core (at least the default 4) keeps
// password hashing from queueing behind file and DNS work. Must be set before the pool starts.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism()));

// The server starts once more with its memory settings (bin/memory.js), before loading anything.
if (!(process.argv[2] === 'serve' && (await relaunchWithMemorySettings()))) {
  const state = distState();
  if (state === 'fresh') {
    await import('../dist/cli/main.js');
  } else if (process.env.NODE_ENV === 'production') {
    await buildForProduction(state);
    await import('../dist/cli/main.js');
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    await import('../src/cli/main.ts');
  }
}

/**
 * Production runs what `npm run build` makes from these very sources (about a second), rather
 * than refusing: the sources are the same, and tsx would cost some 30 MB and seconds per start.
 * A read-only install that was never built gets one line saying what to run.
 */
async function buildForProduction(state) {
  try {
    const { build } = await import('./build.js');
    await build({ quiet: true, template: false });
    process.stderr.write(`portcullis: dist/ was ${state}: built it from src/ (npm run build)\n`);
  } catch (err) {
    process.stderr.write(
      `portcullis: dist/ is ${state} and cannot be built here (${err.message}): run "npm run build"\n`,
    );
    process.exit(1);
  }
}
