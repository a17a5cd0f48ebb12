// Turns the measurements into figures per scenario and target (requests/s, latency, failures,
// RSS, Portcullis/reference ratio) and writes them as a table, JSON and Markdown.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DbWork, ServerMemory } from './dbWork.ts';
import type { LoadSummary } from './load.ts';
import type { Goal } from './scenarios/types.ts';
import { STARTUP_HEADER, type StartupReport, startupNote, startupRows } from './startup.ts';
import type { TargetName } from './targets/types.ts';

export interface RoundResult {
  target: TargetName;
  round: number;
  summary: LoadSummary;
  warmup: LoadSummary | undefined;
  maxRss: number;
  cpuSeconds: number;
  dbCpuSeconds: number;
  /** Round trips and statements Portcullis sent during the timed run (none for the others). */
  db?: DbWork;
  /** Portcullis' own account of its memory at the end of the timed run. */
  memory?: ServerMemory;
}

export interface Figures {
  rps: number;
  p50: number;
  p99: number;
  failed: number;
  maxRssMb: number;
  /** Server CPU per response (user + system), and that of its database backends. */
  cpuUs: number;
  dbCpuUs: number;
  /**
   * Database round trips and statements per response (Portcullis' counters), and statements
   * PostgreSQL executed per response (pg_stat_statements, when loaded). Undefined: not counted
   * (the baseline and Koa keep everything in memory).
   */
  rtPerReq?: number;
  stmtPerReq?: number;
  pgStmtPerReq?: number;
  /** Requests per operation (a login is several); operations/s = rps / steps. */
  steps: number;
  rounds: number;
}

export interface ScenarioReport {
  /** '1'…'4', or '8·4' for a growth rerun of scenario 4. */
  label: string;
  title: string;
  goal: Goal;
  figures: Partial<Record<TargetName, Figures>>;
  /** Portcullis / reference (baseline, or the empty-database Portcullis for growth). */
  ratio: number | undefined;
  /** Lowest and highest ratio of a single round pair. */
  spread: [number, number] | undefined;
  /** Reference operations per second measured in the run (the Argon2 ceiling of logins). */
  ceiling?: number;
  /** Growth only: the ratio with each side divided by its baseline (cancels machine drift). */
  normalizedRatio?: number;
  meets: boolean | undefined;
  rounds: RoundResult[];
}

export const RSS_LIMIT_MB = 250;

const meets = (goal: Goal, ratio: number | undefined) =>
  goal.of === 'none' || ratio === undefined ? undefined : ratio >= goal.ratio;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => sum(xs) / xs.length;
const mb = (bytes: number) => bytes / (1024 * 1024);

/** Database work per response over the rounds that counted it (all of them, or none). */
function dbWorkOf(mine: RoundResult[]): Pick<Figures, 'rtPerReq' | 'stmtPerReq' | 'pgStmtPerReq'> {
  const counted = mine.filter((r) => r.db !== undefined);
  if (counted.length === 0) return {};
  const requests = sum(counted.map((r) => r.summary.requests));
  const per = (pick: (w: DbWork) => number) => sum(counted.map((r) => pick(r.db!))) / requests;
  const withPg = counted.every((r) => r.db!.pgStatements !== undefined);
  return {
    rtPerReq: per((w) => w.roundTrips),
    stmtPerReq: per((w) => w.statements),
    ...(withPg ? { pgStmtPerReq: per((w) => w.pgStatements!) } : {}),
  };
}

export function figuresOf(rounds: RoundResult[], target: TargetName): Figures | undefined {
  const mine = rounds.filter((r) => r.target === target);
  if (mine.length === 0) return undefined;
  return {
    ...dbWorkOf(mine),
    rps: mean(mine.map((r) => r.summary.rps)),
    p50: mean(mine.map((r) => r.summary.latencyMs.p50)),
    p99: Math.max(...mine.map((r) => r.summary.latencyMs.p99)),
    failed: mine.reduce(
      (n, r) =>
        n +
        r.summary.unexpected +
        r.summary.errors +
        (r.warmup ? r.warmup.unexpected + r.warmup.errors : 0),
      0,
    ),
    maxRssMb: mb(Math.max(...mine.map((r) => r.maxRss))),
    cpuUs: (1e6 * sum(mine.map((r) => r.cpuSeconds))) / sum(mine.map((r) => r.summary.requests)),
    dbCpuUs:
      (1e6 * sum(mine.map((r) => r.dbCpuSeconds))) / sum(mine.map((r) => r.summary.requests)),
    steps: mine[0]!.summary.steps,
    rounds: mine.length,
  };
}

/** Ratio of each Portcullis round to the baseline round of the same pair. */
export function pairRatios(rounds: RoundResult[]): number[] {
  const byRound = new Map<number, Partial<Record<TargetName, number>>>();
  for (const r of rounds)
    byRound.set(r.round, { ...byRound.get(r.round), [r.target]: r.summary.rps });
  return [...byRound.values()]
    .filter((v) => v.portcullis && v.baseline)
    .map((v) => v.portcullis! / v.baseline!);
}

/**
 * Portcullis against the baseline, or against `ceiling` (operations per second measured in the
 * same run, e.g. Argon2 verifications) for scenarios that have one.
 */
export function compareWithBaseline(
  label: string,
  title: string,
  goal: Goal,
  rounds: RoundResult[],
  ceiling?: number,
): ScenarioReport {
  const figures: ScenarioReport['figures'] = {};
  for (const t of ['portcullis', 'baseline', 'koa'] as const) {
    const f = figuresOf(rounds, t);
    if (f) figures[t] = f;
  }
  const mine = figures.portcullis;
  // Against a ceiling: operations (whole logins) per second over the ceiling's operations.
  const ratio =
    mine && ceiling !== undefined
      ? mine.rps / mine.steps / ceiling
      : mine && figures.baseline
        ? mine.rps / figures.baseline.rps
        : undefined;
  const pairs =
    ceiling !== undefined
      ? rounds
          .filter((r) => r.target === 'portcullis')
          .map((r) => r.summary.rps / r.summary.steps / ceiling)
      : pairRatios(rounds);
  return {
    label,
    title,
    goal,
    figures,
    ...(ceiling !== undefined ? { ceiling } : {}),
    ratio,
    spread: pairs.length ? [Math.min(...pairs), Math.max(...pairs)] : undefined,
    meets: meets(goal, ratio),
    rounds,
  };
}

/** A growth rerun against the first (empty-database) run of the same scenario. */
export function compareWithEmpty(
  label: string,
  title: string,
  goal: Goal,
  rounds: RoundResult[],
  empty: ScenarioReport,
): ScenarioReport {
  const report = compareWithBaseline(label, title, goal, rounds);
  const grown = report.figures.portcullis;
  const before = empty.figures.portcullis;
  const ratio = grown && before ? grown.rps / before.rps : undefined;
  const normalizedRatio =
    report.ratio !== undefined && empty.ratio !== undefined
      ? report.ratio / empty.ratio
      : undefined;
  return {
    ...report,
    ratio,
    spread: undefined,
    ...(normalizedRatio !== undefined ? { normalizedRatio } : {}),
    meets: meets(goal, ratio),
  };
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits);

function ratioCell(r: ScenarioReport): string {
  if (r.ratio === undefined) return '–';
  let cell = `${fmt(r.ratio, 2)}`;
  if (r.spread) cell += ` (${fmt(r.spread[0], 2)}–${fmt(r.spread[1], 2)})`;
  if (r.normalizedRatio !== undefined) cell += ` [norm. ${fmt(r.normalizedRatio, 2)}]`;
  return cell;
}

const goalCell = (r: ScenarioReport) =>
  r.goal.of === 'none'
    ? `none, no baseline: ${r.goal.why}`
    : `≥ ${r.goal.ratio} × ${r.goal.of} ${r.meets === undefined ? '' : r.meets ? 'met' : 'MISSED'}`;

/** CPU per response; for a multi-request operation also per operation (a sign-in, a payment). */
function cpuCell(f: Figures): string {
  const perRequest = f.dbCpuUs >= 1 ? `${fmt(f.cpuUs)} + ${fmt(f.dbCpuUs)} db` : fmt(f.cpuUs);
  if (f.steps <= 1) return perRequest;
  const ms = (us: number) => fmt((us * f.steps) / 1000, 1);
  return `${perRequest} (${f.dbCpuUs >= 1 ? `${ms(f.cpuUs)} + ${ms(f.dbCpuUs)}` : ms(f.cpuUs)} ms/op)`;
}

/** Database work per response; per operation in brackets for a multi-request operation. */
function dbCell(f: Figures, perRequest: number | undefined, pg?: number): string {
  if (perRequest === undefined) return '–';
  let cell = fmt(perRequest, 2);
  if (f.steps > 1) cell += ` (${fmt(perRequest * f.steps, 1)}/op)`;
  if (pg !== undefined) cell += ` [pg ${fmt(pg, 2)}]`;
  return cell;
}

export const HEADER = [
  'scenario',
  'target',
  'req/s',
  'p50 ms',
  'p99 ms',
  'failed',
  'RSS MB',
  'CPU µs/req',
  'RT/req',
  'stmt/req',
  'ratio',
  'goal',
];

export function tableRows(reports: ScenarioReport[]): string[][] {
  const rows: string[][] = [];
  for (const r of reports) {
    for (const target of ['portcullis', 'baseline', 'koa'] as const) {
      const f = r.figures[target];
      if (!f) continue;
      const first = target === 'portcullis';
      const rss = `${fmt(f.maxRssMb)}${first && f.maxRssMb > RSS_LIMIT_MB ? ' !' : ''}`;
      rows.push([
        first ? `${r.label} ${r.title}` : '',
        target,
        f.steps > 1 ? `${fmt(f.rps)} (${fmt(f.rps / f.steps, 1)} ops/s)` : fmt(f.rps),
        fmt(f.p50, 1),
        fmt(f.p99, 1),
        String(f.failed),
        rss,
        cpuCell(f),
        dbCell(f, f.rtPerReq),
        dbCell(f, f.stmtPerReq, f.pgStmtPerReq),
        first ? ratioCell(r) : '',
        first ? goalCell(r) : '',
      ]);
      if (first && r.ceiling !== undefined) {
        rows.push([
          '',
          'argon2 ceiling',
          `(${fmt(r.ceiling, 1)} ops/s)`,
          ...HEADER.slice(3).map(() => ''),
        ]);
      }
    }
  }
  return rows;
}

export function textTable(rows: string[][]): string {
  const all = [HEADER, ...rows];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${HEADER.join(' | ')} |`,
    `| ${HEADER.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export interface RunRecord {
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  machine: Record<string, unknown>;
  options: Record<string, unknown>;
  growth: Record<string, unknown> | undefined;
  reports: ScenarioReport[];
  failures: string[];
  /** The start-up section (bench/startup.ts), when it ran. */
  startup?: StartupReport;
}

/** The start-up section as text (for the terminal) or Markdown. */
export function startupTable(report: StartupReport, format: 'text' | 'markdown'): string {
  const rows = startupRows(report);
  if (format === 'markdown')
    return [
      `| ${STARTUP_HEADER.join(' | ')} |`,
      `| ${STARTUP_HEADER.map(() => '---').join(' | ')} |`,
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
  const all = [STARTUP_HEADER, ...rows];
  const widths = STARTUP_HEADER.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function markdown(record: RunRecord): string {
  const m = record.machine;
  return [
    `# Portcullis bench — ${record.startedAt}${record.quick ? ' (quick)' : ''}`,
    '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB; Node ${m.node}; ${m.postgres}; ` +
      `load average before ${m.loadBefore}, after ${m.loadAfter}; commit ${m.commit}.`,
    '',
    `Options: ${Object.entries(record.options)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}.`,
    '',
    'req/s and p50 are means over rounds; p99 is the worst round; RSS the highest VmRSS of the ' +
      'server process during its measured rounds; ratio = Portcullis / reference, with the ' +
      'lowest–highest single-round-pair ratio in brackets (against a ceiling: operations per ' +
      'second, i.e. whole sign-ins, over Argon2 verifications per second); failed counts unexpected responses and ' +
      'socket errors, warm-ups included; CPU µs/req is the CPU time (user + system) of the server ' +
      "process per response, plus that of Portcullis' PostgreSQL backends (db), and per operation " +
      'in brackets for scenarios whose operation is several requests; RT/req and stmt/req are ' +
      "the round trips and SQL statements Portcullis' pool sent per response (its " +
      'portcullis_db_* counters, read before and after each round; per operation in brackets; ' +
      '[pg …]: statements PostgreSQL executed per response, from pg_stat_statements when ' +
      'loaded); the baseline and Koa keep everything in memory (–).',
    '',
    ...(record.reports.length ? [markdownTable(tableRows(record.reports)), ''] : []),
    ...(record.startup
      ? [startupNote(record.startup), '', startupTable(record.startup, 'markdown'), '']
      : []),
    ...(record.growth
      ? ['Growth:', '', '```json', JSON.stringify(record.growth, null, 2), '```', '']
      : []),
    record.failures.length
      ? `**Failed requests:**\n\n${record.failures.map((f) => `- ${f}`).join('\n')}\n`
      : 'No request failed.',
    '',
  ].join('\n');
}

/**
 * Writes <stamp>.json and <stamp>.md under `dir`, and latest.md for a full run (every scenario,
 * default settings). Quick and partial runs (a subset, other rounds or durations) are prefixed
 * `quick-` / `partial-` (git ignores both) and never replace latest.md. Returns the paths.
 */
export function writeResults(dir: string, record: RunRecord, full: boolean): string[] {
  mkdirSync(dir, { recursive: true });
  const stamp = record.startedAt.replace(/[:.]/g, '-');
  const prefix = record.quick ? 'quick-' : full ? '' : 'partial-';
  const base = join(dir, `${prefix}${stamp}`);
  const md = markdown(record);
  writeFileSync(`${base}.json`, `${JSON.stringify(record, null, 2)}\n`);
  writeFileSync(`${base}.md`, md);
  const written = [`${base}.json`, `${base}.md`];
  if (full && !record.quick) {
    writeFileSync(join(dir, 'latest.md'), md);
    written.push(join(dir, 'latest.md'));
  }
  return written;
}
