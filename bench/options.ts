// Command-line options of `npm run bench`, with the full and the --quick defaults.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';

/**
 * The local PostgreSQL's Unix socket when there is one: on a machine shared with the database,
 * every query sent over loopback TCP also pays the TCP stack in both processes (measured: the
 * refresh scenario ran 1.4-2x faster over the socket, see bench/README.md).
 */
const SOCKET_DIR = '/var/run/postgresql';
export const DEFAULT_DATABASE_URL = existsSync(`${SOCKET_DIR}/.s.PGSQL.5432`)
  ? `postgres://postgres@localhost/postgres?host=${SOCKET_DIR}`
  : 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchOptions {
  quick: boolean;
  /** Every scenario with the default settings: the run that bench/results/latest.md shows. */
  full: boolean;
  databaseUrl: string;
  scenarios: number[];
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  connections: number;
  /** Distinct live opaque tokens introspected in scenario 4. */
  poolSize: number;
  /** Rows added to oidc_artifacts before the growth scenario. */
  growthRows: number;
  /** People with a passkey who make the payments of scenario 10, taken in turn. */
  payers: number;
  /** LOG_LEVEL of the Portcullis server (its request log goes to a file, as in production). */
  logLevel: string;
  /** DATABASE_POOL_MAX of the Portcullis server; undefined keeps Portcullis' default. */
  poolMax: number | undefined;
  cpuProfile: boolean;
  keepDatabase: boolean;
  koa: boolean;
  /** The start-up section (bench/startup.ts): with the scenarios, alone, or skipped. */
  startup: 'with' | 'only' | 'skip';
  startupRuns: number;
}

export const USAGE = `npm run bench [-- options]

  --quick                a short smoke: every scenario end to end, a few seconds each
  --scenarios LIST       comma-separated scenario numbers (default: all built)
  --rounds N             alternating rounds per target (default 3; quick 1)
  --duration SECONDS     measured seconds per round (default 15; quick 3)
  --warmup SECONDS       warm-up before each measured round (default 5; quick 1)
  --connections N        concurrent connections (default 100; quick 10)
  --pool N               distinct opaque tokens introspected (default 10000; quick 200)
  --growth-rows N        rows stored before the growth scenario (default 1000000; quick 20000)
  --payers N             people with a passkey making the payments of scenario 10
                         (default 200; quick 20)
  --log-level LEVEL      Portcullis LOG_LEVEL, request log written to a file (default info)
  --pool-max N           Portcullis DATABASE_POOL_MAX (default: Portcullis' default)
  --profile              write CPU profiles of Portcullis and the baseline under bench/tmp/<run>/
  --keep-database        keep the bench database (for EXPLAIN ANALYZE) and print its URL
  --no-koa               skip the bare Koa ceiling
  --startup-only         only the start-up section (embedded database: first start, restart,
                         --help, client list, busy port); no PostgreSQL needed
  --no-startup           skip the start-up section
  --startup-runs N       runs of the start-up section, median reported (default 3)
  --database-url URL     PostgreSQL server (default: DATABASE_URL, else the local server's
                         Unix socket in /var/run/postgresql, else
                         postgres://postgres@127.0.0.1:5432/postgres); a new database is
                         created on it for the run and dropped at the end
`;

const positive = (name: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`);
  return n;
};

export function parseOptions(argv: string[], available: number[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      pool: { type: 'string' },
      'growth-rows': { type: 'string' },
      payers: { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'pool-max': { type: 'string' },
      profile: { type: 'boolean', default: false },
      'keep-database': { type: 'boolean', default: false },
      'no-koa': { type: 'boolean', default: false },
      'startup-only': { type: 'boolean', default: false },
      'no-startup': { type: 'boolean', default: false },
      'startup-runs': { type: 'string' },
      'database-url': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick;
  const scenarios = values.scenarios
    ? values.scenarios.split(',').map((s) => Number(s.trim()))
    : available;
  for (const n of scenarios) {
    if (!available.includes(n))
      throw new Error(`--scenarios: ${n} is not built (available: ${available.join(', ')})`);
  }
  const shaping = [
    'scenarios',
    'rounds',
    'duration',
    'warmup',
    'connections',
    'pool',
    'growth-rows',
    'payers',
  ];
  return {
    quick,
    full: !quick && shaping.every((k) => values[k as keyof typeof values] === undefined),
    databaseUrl: values['database-url'] ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    scenarios,
    rounds: Math.max(1, positive('rounds', values.rounds, quick ? 1 : 3)),
    seconds: Math.max(1, positive('duration', values.duration, quick ? 3 : 15)),
    warmupSeconds: positive('warmup', values.warmup, quick ? 1 : 5),
    connections: Math.max(1, positive('connections', values.connections, quick ? 10 : 100)),
    poolSize: Math.max(1, positive('pool', values.pool, quick ? 200 : 10_000)),
    growthRows: positive('growth-rows', values['growth-rows'], quick ? 20_000 : 1_000_000),
    payers: Math.max(1, positive('payers', values.payers, quick ? 20 : 200)),
    logLevel: values['log-level'],
    poolMax: values['pool-max'] ? positive('pool-max', values['pool-max'], 10) : undefined,
    cpuProfile: values.profile,
    keepDatabase: values['keep-database'],
    koa: !values['no-koa'],
    startup: values['startup-only'] ? 'only' : values['no-startup'] ? 'skip' : 'with',
    startupRuns: Math.max(1, positive('startup-runs', values['startup-runs'], 3)),
  };
}
