#!/usr/bin/env node
// The `portcullis` command. TypeScript sources run through tsx, so there is no build step.
import { availableParallelism } from 'node:os';
import { register } from 'tsx/esm/api';

// Argon2 runs on libuv's thread pool: one thread per core (at least the default 4) keeps
// password hashing from queueing behind file and DNS work. Must be set before the pool starts.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism()));
register();
await import('../src/cli/main.ts');
