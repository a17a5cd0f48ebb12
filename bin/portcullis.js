#!/usr/bin/env node
// The `portcullis` command. TypeScript sources run through tsx, so there is no build step.
import { availableParallelism } from 'node:os';
import { relaunchWithMemorySettings } from './memory.js';

// Argon2 runs on libuv's thread pool: one thread per core (at least the default 4) keeps
// password hashing from queueing behind file and DNS work. Must be set before the pool starts.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism()));
// The server starts once more with its memory settings (bin/memory.js), before loading anything.
if (!(process.argv[2] === 'serve' && (await relaunchWithMemorySettings()))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
