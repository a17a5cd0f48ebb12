// Runs every test file under test/ (browser tests excluded: `npm run test:e2e`; the resilience
// suite too: `npm run test:resilience`, which passes its folder here) with node:test,
// TypeScript through tsx, files in parallel. TEST_DATABASE_URL selects a PostgreSQL server;
// without it each file uses an in-memory embedded PostgreSQL. A run of the whole suite also
// checks that every audit event kind of src/audit/kinds.ts was written by some test.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const only = process.argv.slice(2);
const roots = only.length ? only : ['test'];

function find(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path)
    .filter((name) => !['e2e', 'support', 'resilience'].includes(name))
    .flatMap((name) => find(join(path, name)));
}

/** The kinds listed in src/audit/kinds.ts, read through tsx as the server reads them. */
function listedKinds() {
  const out = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '--eval',
      "const { AUDIT_KINDS } = await import('./src/audit/kinds.ts'); console.log(JSON.stringify(Object.keys(AUDIT_KINDS)));",
    ],
    { encoding: 'utf8', env: { ...process.env, NODE_NO_WARNINGS: '1' } },
  );
  if (out.status !== 0) throw new Error(`cannot read src/audit/kinds.ts: ${out.stderr}`);
  return JSON.parse(out.stdout);
}

/** Every action the servers and CLI runs of this suite committed (src/audit/coverage.ts). */
function writtenKinds(dir) {
  const written = new Set();
  for (const name of readdirSync(dir))
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n'))
      if (line) written.add(line);
  return written;
}

const files = roots.flatMap(find).sort();
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// Partial runs (files named) cannot cover every kind: only the whole suite is checked.
const checkCoverage = only.length === 0;
const coverageDir = checkCoverage
  ? mkdtempSync(join(tmpdir(), 'portcullis-audit-kinds-'))
  : undefined;
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
  {
    stdio: 'inherit',
    env: {
      ...process.env,
      NODE_NO_WARNINGS: '1',
      ...(coverageDir ? { AUDIT_COVERAGE_DIR: coverageDir } : {}),
    },
  },
);
let status = result.status ?? 1;
if (coverageDir) {
  const written = writtenKinds(coverageDir);
  rmSync(coverageDir, { recursive: true, force: true });
  const missing = listedKinds().filter((kind) => !written.has(kind));
  if (missing.length > 0) {
    console.error(
      `audit coverage: ${missing.length} event kind(s) of src/audit/kinds.ts never written by a test: ${missing.join(', ')}`,
    );
    status = status || 1;
  } else {
    console.log(`audit coverage: every event kind of src/audit/kinds.ts was written by a test`);
  }
}
process.exit(status);
