// The start-up section of the bench: what a new user waits for on the embedded database (no
// DATABASE_URL, a new DATA_DIR): first start, restart, `--help`, `client list` beside the running
// server, and a second `serve` on the busy port. Median of a few runs, each on its own DATA_DIR.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { distState } from '../bin/freshness.js';
import { cpuSeconds, freePort, onlyChild, rssBytes } from './processes.ts';

const CLI = fileURLToPath(new URL('../bin/portcullis.js', import.meta.url));

/** The targets of issue 14 on the development machine, in seconds. */
export const STARTUP_TARGETS = {
  firstStart: 10,
  restart: 3,
  help: 0.5,
  clientList: 1.5,
  busyPort: 1,
} as const;

export type StartupStep = keyof typeof STARTUP_TARGETS;

export interface StartupReport {
  runs: number;
  /** What bin/portcullis.js ran: dist/ (compiled) or the sources through tsx. */
  code: 'dist' | 'tsx';
  /** Seconds per run, and their median. */
  seconds: Record<StartupStep, number[]>;
  median: Record<StartupStep, number>;
  /** Resident memory of the server when it first answered /readyz (MB, median). */
  rssAtReadyMb: number;
  /**
   * CPU seconds (user + system) the server had used when it first answered /readyz (median):
   * on a busy machine wall time mostly measures the queue, this the work.
   */
  cpuAtReady: { firstStart: number; restart: number };
  busyPortMessage: string;
}

interface Run {
  code: number | null;
  stderr: string;
  seconds: number;
}

function environment(dataDir: string, port: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    PORT: String(port),
    ISSUER: `http://localhost:${port}`,
    LOG_LEVEL: 'warn',
    NODE_NO_WARNINGS: '1',
  };
}

/** Runs the CLI to its end. */
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.once('close', (code) =>
      resolve({ code, stderr, seconds: (performance.now() - started) / 1000 }),
    );
  });
}

/** Starts `serve` and polls /readyz every 25 ms; resolves once it answers 200. */
async function startServer(env: NodeJS.ProcessEnv) {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const url = `${env.ISSUER}/readyz`;
  while (!exited && performance.now() - started < 180_000) {
    const ok = await fetch(url).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) {
      const seconds = (performance.now() - started) / 1000;
      // On Node < 22.15 the server runs as the launcher's only child (bin/memory.js): measure it.
      const serving = onlyChild(child.pid!);
      const cpu = cpuSeconds(child.pid!) + (serving ? cpuSeconds(serving) : 0);
      return { child, seconds, rss: rssBytes(serving ?? child.pid!), cpu };
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`serve did not become ready: ${stderr.trim().split('\n').pop() ?? ''}`);
}

function stop(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function oneRun(
  say: (m: string) => void,
): Promise<
  Record<StartupStep, number> & { rss: number; cpuFirst: number; cpuRestart: number; busy: string }
> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-startup-'));
  const env = environment(dataDir, await freePort());
  try {
    const first = await startServer(env);
    await stop(first.child);
    const again = await startServer(env);
    try {
      const help = await runCli(['--help'], env);
      const list = await runCli(['client', 'list', '--json'], env);
      if (list.code !== 0) throw new Error(`client list failed: ${list.stderr.trim()}`);
      const busy = await runCli(['serve'], env);
      if (busy.code === 0 || !/already in use/.test(busy.stderr))
        throw new Error(`a second serve on the busy port: ${busy.code} ${busy.stderr.trim()}`);
      const run = {
        firstStart: first.seconds,
        restart: again.seconds,
        help: help.seconds,
        clientList: list.seconds,
        busyPort: busy.seconds,
        rss: again.rss,
        cpuFirst: first.cpu,
        cpuRestart: again.cpu,
        busy: busy.stderr.trim(),
      };
      say(
        `  first start ${run.firstStart.toFixed(2)} s, restart ${run.restart.toFixed(2)} s, --help ${run.help.toFixed(2)} s, ` +
          `client list ${run.clientList.toFixed(2)} s, busy port ${run.busyPort.toFixed(2)} s`,
      );
      return run;
    } finally {
      await stop(again.child);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function measureStartup(
  runs: number,
  say: (m: string) => void,
): Promise<StartupReport> {
  const steps = Object.keys(STARTUP_TARGETS) as StartupStep[];
  const seconds = Object.fromEntries(
    steps.map((s) => [s, [] as number[]]),
  ) as StartupReport['seconds'];
  const rss: number[] = [];
  const cpuFirst: number[] = [];
  const cpuRestart: number[] = [];
  let busy = '';
  const code = distState() === 'fresh' ? 'dist' : 'tsx';
  for (let i = 1; i <= runs; i++) {
    say(`start-up ${i}/${runs} (${code}): new DATA_DIR, first start, restart, CLI, busy port`);
    const run = await oneRun(say);
    for (const s of steps) seconds[s].push(run[s]);
    rss.push(run.rss);
    cpuFirst.push(run.cpuFirst);
    cpuRestart.push(run.cpuRestart);
    busy = run.busy;
  }
  const med = Object.fromEntries(
    steps.map((s) => [s, median(seconds[s])]),
  ) as StartupReport['median'];
  return {
    runs,
    code,
    seconds,
    median: med,
    rssAtReadyMb: median(rss) / 1048576,
    cpuAtReady: { firstStart: median(cpuFirst), restart: median(cpuRestart) },
    busyPortMessage: busy,
  };
}

const LABELS: Record<StartupStep, string> = {
  firstStart: 'first start (new DATA_DIR, until /readyz)',
  restart: 'restart (until /readyz)',
  help: 'portcullis --help',
  clientList: 'portcullis client list (server running)',
  busyPort: 'second serve on the busy port (exit 1)',
};

/** Rows: step, median seconds, each run, target. */
export function startupRows(report: StartupReport): string[][] {
  return (Object.keys(STARTUP_TARGETS) as StartupStep[]).map((s) => [
    LABELS[s],
    report.median[s].toFixed(2),
    report.seconds[s].map((x) => x.toFixed(2)).join(' '),
    `≤ ${STARTUP_TARGETS[s]} ${report.median[s] <= STARTUP_TARGETS[s] ? 'met' : 'MISSED'}`,
  ]);
}

export const STARTUP_HEADER = ['start-up', 'median s', 'runs s', 'target s'];

export function startupNote(report: StartupReport): string {
  return (
    `Start-up on the embedded database (no DATABASE_URL), ${report.runs} runs of \`node bin/portcullis.js\` ` +
    `running ${report.code === 'dist' ? 'dist/ (compiled)' : 'the sources through tsx (dist/ missing or stale)'}; ` +
    `RSS of the restarted server at ready ${report.rssAtReadyMb.toFixed(0)} MB; CPU used by then ` +
    `${report.cpuAtReady.firstStart.toFixed(1)} s (first start) and ${report.cpuAtReady.restart.toFixed(1)} s (restart); \`npm start\` adds npm's own start.`
  );
}
