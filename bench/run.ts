// `npm run bench`: starts Portcullis (PostgreSQL), a bare oidc-provider baseline and a bare Koa
// app, runs each scenario against them with alternating rounds, prints and writes the results.
// Exits non-zero if any request failed; never judges speed by its exit code.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchDatabase, createBenchDatabase } from './database.ts';
import { pgStatementCounter, workReader } from './dbWork.ts';
import { failures, measure } from './measure.ts';
import { type BenchOptions, parseOptions, USAGE } from './options.ts';
import { stopAll } from './processes.ts';
import {
  compareWithBaseline,
  compareWithEmpty,
  type RoundResult,
  type RunRecord,
  type ScenarioReport,
  startupTable,
  tableRows,
  textTable,
  writeResults,
} from './report.ts';
import { AVAILABLE, GROWTH, PAYMENT_SCENARIO, SCENARIOS } from './scenarios/index.ts';
import type { Scenario, ScenarioEnv } from './scenarios/types.ts';
import { measureStartup, type StartupReport, startupNote } from './startup.ts';
import { startBaseline } from './targets/baseline.ts';
import { startKoa } from './targets/koa.ts';
import { startPortcullis } from './targets/portcullis.ts';
import type { Target } from './targets/types.ts';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const started = Date.now();

function say(message: string): void {
  const s = Math.round((Date.now() - started) / 1000);
  const stamp = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  process.stdout.write(`[${stamp}] ${message}\n`);
}

interface Targets {
  portcullis: Target;
  baseline: Target;
  koa: Target | undefined;
}

const failed: string[] = [];

function noteFailures(label: string, target: string, round: RoundResult): void {
  for (const [phase, s] of [
    ['warm-up', round.warmup],
    ['measured', round.summary],
  ] as const) {
    if (!s || failures(s) === 0) continue;
    const first = s.firstUnexpected
      ? `; first: ${s.firstUnexpected.status} ${s.firstUnexpected.body.slice(0, 160)}`
      : '';
    failed.push(
      `scenario ${label} on ${target}, round ${round.round} (${phase}): ${s.unexpected} unexpected responses, ` +
        `${s.errors} socket errors (${s.timeouts} timeouts); status codes ${JSON.stringify(s.statusCodes)}${first}`,
    );
  }
}

/**
 * Rounds alternate the order (Portcullis then baseline, then baseline then Portcullis, …) so a
 * drift in machine load weighs on both equally; Koa, the ceiling, runs once at the end.
 */
async function runScenario(
  scenario: Scenario,
  label: string,
  env: ScenarioEnv,
  targets: Targets,
  withKoa: boolean,
): Promise<RoundResult[]> {
  const { options } = env;
  const wanted = scenario.targets ?? ['portcullis', 'baseline', 'koa'];
  const pair = [targets.portcullis, targets.baseline].filter((t) => wanted.includes(t.name));
  const koa = withKoa && targets.koa && wanted.includes('koa') ? targets.koa : undefined;
  const plans = new Map<string, Awaited<ReturnType<Scenario['prepare']>>>();
  for (const t of koa ? [...pair, koa] : pair) plans.set(t.name, await scenario.prepare(env, t));
  // Koa answers {"ok":true} to anything: only the status and that body are checked.
  const koaPlan = plans.get('koa');
  if (koaPlan)
    koaPlan.options = { ...koaPlan.options, expect: { status: 200, bodyIncludes: '"ok":true' } };

  const schedule: { target: Target; round: number }[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of round % 2 ? pair : [...pair].reverse()) schedule.push({ target, round });
  }
  if (koa) schedule.push({ target: koa, round: 1 });

  const rounds: RoundResult[] = [];
  for (const [i, { target, round }] of schedule.entries()) {
    say(
      `scenario ${label} · ${target.name} · round ${round}/${target.name === 'koa' ? 1 : options.rounds} ` +
        `(${i + 1}/${schedule.length}) · ${options.warmupSeconds}s warm-up + ${options.seconds}s`,
    );
    const m = await measure({
      url: target.server.url,
      pid: target.server.pid,
      ...(target.server.launcherPid ? { launcherPid: target.server.launcherPid } : {}),
      generator: plans.get(target.name)!,
      connections: options.connections,
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      ...(target.name === 'portcullis'
        ? { backendPids: env.backendPids, ...(env.dbWork ? { dbWork: env.dbWork } : {}) }
        : {}),
    });
    const result: RoundResult = { target: target.name, round, ...m };
    rounds.push(result);
    noteFailures(label, target.name, result);
    const s = m.summary;
    say(
      `  ${s.rps.toFixed(0)} req/s, p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms, ` +
        `${failures(s)} failed, RSS ${(m.maxRss / 1048576).toFixed(0)} MB, ` +
        `CPU ${((1e6 * m.cpuSeconds) / s.requests).toFixed(0)} µs/req` +
        ((1e6 * m.dbCpuSeconds) / s.requests >= 1
          ? ` + ${((1e6 * m.dbCpuSeconds) / s.requests).toFixed(0)} db`
          : '') +
        (m.db
          ? `, ${(m.db.roundTrips / s.requests).toFixed(2)} RT/req, ` +
            `${(m.db.statements / s.requests).toFixed(2)} stmt/req`
          : ''),
    );
  }
  return rounds;
}

function machine(loadBefore: string): Record<string, unknown> {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: BENCH_DIR })
      .toString()
      .trim();
  } catch {
    // not a git checkout
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    commit,
    loadBefore,
  };
}

const loadAverage = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');

async function bench(options: BenchOptions, db: BenchDatabase, runDir: string): Promise<RunRecord> {
  const startedAt = new Date().toISOString();
  const info = machine(loadAverage());
  const version = (await db.knex.raw('show server_version')) as {
    rows: { server_version: string }[];
  };
  info.postgres = `PostgreSQL ${version.rows[0]?.server_version ?? '?'}`;

  say('starting Portcullis (migrate, seed, serve)');
  const { target: portcullis, world } = await startPortcullis({
    databaseUrl: db.url,
    runDir,
    logLevel: options.logLevel,
    poolMax: options.poolMax,
    cpuProfile: options.cpuProfile,
    // TOTP users are taken in turn, one code per 30 s step each: enough that none comes round
    // again within a minute at the Argon2 ceiling of a large machine.
    // Passkeys are registered one ceremony each: only when the payment scenario runs.
    people: {
      passwordUsers: 200,
      totpUsers: 6000,
      payers: options.scenarios.includes(PAYMENT_SCENARIO) ? options.payers : 0,
    },
  });
  say('starting the baseline (bare oidc-provider) and the Koa ceiling');
  const targets: Targets = {
    portcullis,
    baseline: await startBaseline(world, runDir, options.cpuProfile),
    koa: options.koa ? await startKoa(runDir) : undefined,
  };
  const pgStatements = await pgStatementCounter(db.knex);
  info.pgStatStatements = pgStatements !== undefined;
  say(
    pgStatements
      ? 'pg_stat_statements is loaded: statements counted by PostgreSQL too'
      : 'pg_stat_statements is not loaded on this server: statements counted by Portcullis only',
  );
  const env: ScenarioEnv = {
    world,
    options,
    say,
    memo: new Map(),
    runDir,
    backendPids: () => db.backendPids(),
    ...(portcullis.metricsUrl ? { dbWork: workReader(portcullis.metricsUrl, pgStatements) } : {}),
  };

  const reports: ScenarioReport[] = [];
  const wanted = new Set(options.scenarios);
  // Growth compares with the empty-database runs of the scenarios it reruns.
  if (wanted.has(GROWTH.number)) for (const n of GROWTH.reruns) wanted.add(n);
  for (const scenario of SCENARIOS.filter((s) => wanted.has(s.number))) {
    const label = String(scenario.number);
    const rounds = await runScenario(scenario, label, env, targets, options.koa);
    const ceiling = scenario.ceiling ? await scenario.ceiling(env) : undefined;
    reports.push(compareWithBaseline(label, scenario.title, scenario.goal, rounds, ceiling));
  }

  let growth: Record<string, unknown> | undefined;
  if (wanted.has(GROWTH.number)) {
    growth = await GROWTH.grow(env, db.knex);
    for (const n of GROWTH.reruns) {
      const scenario = SCENARIOS.find((s) => s.number === n)!;
      const label = `${GROWTH.number}·${n}`;
      const rounds = await runScenario(scenario, label, env, targets, false);
      const empty = reports.find((r) => r.label === String(n))!;
      reports.push(
        compareWithEmpty(label, `${scenario.title}, after growth`, GROWTH.goal, rounds, empty),
      );
    }
  }
  info.loadAfter = loadAverage();
  return {
    startedAt,
    finishedAt: new Date().toISOString(),
    quick: options.quick,
    machine: info,
    // The server URL may carry a password: never written to the results.
    options: Object.fromEntries(Object.entries(options).filter(([k]) => k !== 'databaseUrl')),
    growth,
    reports,
    failures: failed,
  };
}

/** The start-up section: the embedded database, so it needs no bench database of its own. */
function startup(options: BenchOptions): Promise<StartupReport> {
  say(`start-up section: ${options.startupRuns} runs on new embedded databases`);
  return measureStartup(options.startupRuns, say);
}

function startupOnlyRecord(options: BenchOptions, report: StartupReport): RunRecord {
  const now = new Date().toISOString();
  const info = machine(loadAverage());
  info.loadAfter = loadAverage();
  info.postgres = 'no PostgreSQL server (embedded database)';
  return {
    startedAt: new Date(started).toISOString(),
    finishedAt: now,
    quick: options.quick,
    machine: info,
    options: { startupOnly: true, startupRuns: options.startupRuns },
    growth: undefined,
    reports: [],
    failures: [],
    startup: report,
  };
}

let cleaning: Promise<void> | undefined;
function cleanup(db: BenchDatabase | undefined, keep: boolean): Promise<void> {
  cleaning ??= (async () => {
    await stopAll();
    if (db && !keep)
      await db.drop().catch((err: Error) => say(`could not drop ${db.name}: ${err.message}`));
    if (db && keep) say(`kept the bench database: ${db.url}`);
  })();
  return cleaning;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2), AVAILABLE);
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const runDir = join(BENCH_DIR, 'tmp', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(runDir, { recursive: true });
  let db: BenchDatabase | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    say(`${signal}: stopping every child process and dropping the bench database`);
    void cleanup(db, options.keepDatabase).then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let record: RunRecord;
    if (options.startup === 'only') record = startupOnlyRecord(options, await startup(options));
    else {
      db = await createBenchDatabase(options.databaseUrl);
      say(`bench database ${db.name}; logs and profiles in ${runDir}`);
      record = await bench(options, db, runDir);
      if (options.startup === 'with') record.startup = await startup(options);
      process.stdout.write(`\n${textTable(tableRows(record.reports))}\n\n`);
    }
    if (record.startup)
      process.stdout.write(
        `${startupNote(record.startup)}\n${startupTable(record.startup, 'text')}\n\n`,
      );
    for (const path of writeResults(
      join(BENCH_DIR, 'results'),
      record,
      options.full && options.startup !== 'only',
    ))
      say(`wrote ${path}`);
    if (failed.length > 0) {
      process.stderr.write(`\nFailed requests:\n${failed.map((f) => `  - ${f}`).join('\n')}\n`);
      return 1;
    }
    say('no request failed');
    return 0;
  } finally {
    await cleanup(db, options.keepDatabase);
  }
}

main().then(
  (code) => process.exit(code),
  async (err: Error) => {
    process.stderr.write(`bench failed: ${err.message}\n`);
    await cleanup(undefined, true);
    process.exit(1);
  },
);
