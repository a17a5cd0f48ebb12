// Runs the browser tests (test/e2e/*.test.ts) in Debian's Chromium through playwright-core, one
// file at a time. Screenshots of every page visited go to test-results/e2e/ (git-ignored).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
  console.error(
    `Chromium not found at ${chromium}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`,
  );
  process.exit(1);
}
const dir = join('test', 'e2e');
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(dir)
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => join(dir, f));
rmSync(join('test-results', 'e2e'), { recursive: true, force: true });
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', ...files],
  {
    stdio: 'inherit',
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  },
);
process.exit(result.status ?? 1);
