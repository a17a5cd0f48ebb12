// Runs every test file under test/ (browser tests excluded: `npm run test:e2e`; the resilience
// suite too: `npm run test:resilience`, which passes its folder here) with node:test,
// TypeScript through tsx, files in parallel. TEST_DATABASE_URL selects a PostgreSQL server;
// without it each file uses an in-memory embedded PostgreSQL.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const only = process.argv.slice(2);
const roots = only.length ? only : ['test'];

function find(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path)
    .filter((name) => !['e2e', 'support', 'resilience'].includes(name))
    .flatMap((name) => find(join(path, name)));
}

const files = roots.flatMap(find).sort();
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_NO_WARNINGS: '1' } },
);
process.exit(result.status ?? 1);
