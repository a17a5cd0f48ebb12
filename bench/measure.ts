// One measurement: a warm-up, then a timed run of the load generator (a separate process)
// against one server while its RSS is sampled.
import { fileURLToPath } from 'node:url';
import { type DbWork, type Scrape, type ServerMemory, workBetween } from './dbWork.ts';
import type { LoadJob, LoadSummary } from './load.ts';
import { cpuSeconds, forkModule, sampleRss } from './processes.ts';
import type { GeneratorRef } from './requests/types.ts';

const LOAD_MODULE = fileURLToPath(new URL('./load.ts', import.meta.url));

/** Runs one load job in a fresh load-generator process. */
export function runLoad(job: LoadJob): Promise<LoadSummary> {
  const child = forkModule(LOAD_MODULE);
  return new Promise((resolve, reject) => {
    let settled = false;
    child.once('message', (message: { ok: boolean; summary?: LoadSummary; error?: string }) => {
      settled = true;
      if (message.ok && message.summary) resolve(message.summary);
      else reject(new Error(`load generator failed: ${message.error}`));
    });
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`load generator exited with ${code} before reporting`));
    });
    child.send(job);
  });
}

export interface MeasureOptions {
  url: string;
  pid: number;
  /** The process that started the server as its child, if any (its memory and CPU count too). */
  launcherPid?: number;
  generator: GeneratorRef;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** Pids of the database backends serving this target (their CPU is added to its account). */
  backendPids?: () => Promise<number[]>;
  /** Reads the server's database work counters and memory (Portcullis only). */
  dbWork?: () => Promise<Scrape>;
}

export interface Measurement {
  summary: LoadSummary;
  warmup: LoadSummary | undefined;
  /** Highest RSS of the server process during the timed run, in bytes. */
  maxRss: number;
  /** CPU seconds (user + system) the server process used during the timed run. */
  cpuSeconds: number;
  /** CPU seconds its database backends used during the timed run (Portcullis only). */
  dbCpuSeconds: number;
  /** Round trips and statements the server sent during the timed run (Portcullis only). */
  db?: DbWork;
  /** The server's memory at the end of the timed run, as it reports it (Portcullis only). */
  memory?: ServerMemory;
}

/** CPU seconds of each backend now; backends that appear later count from zero. */
async function backendCpu(pids: (() => Promise<number[]>) | undefined) {
  const list = pids ? await pids() : [];
  return new Map(list.map((pid) => [pid, cpuSeconds(pid)]));
}

function backendDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of after) total += cpu - (before.get(pid) ?? 0);
  return total;
}

export async function measure(options: MeasureOptions): Promise<Measurement> {
  const job = { url: options.url, connections: options.connections, generator: options.generator };
  const warmup =
    options.warmupSeconds > 0
      ? await runLoad({ ...job, seconds: options.warmupSeconds })
      : undefined;
  const rss = sampleRss(options.pid, 200, options.launcherPid);
  const serverCpu = () =>
    cpuSeconds(options.pid) + (options.launcherPid ? cpuSeconds(options.launcherPid) : 0);
  const workBefore = await options.dbWork?.();
  const dbBefore = await backendCpu(options.backendPids);
  const cpuBefore = serverCpu();
  try {
    const summary = await runLoad({ ...job, seconds: options.seconds });
    const cpu = serverCpu() - cpuBefore;
    const dbCpu = backendDelta(dbBefore, await backendCpu(options.backendPids));
    const workAfter = await options.dbWork?.();
    return {
      summary,
      warmup,
      maxRss: rss.stop(),
      cpuSeconds: cpu,
      dbCpuSeconds: dbCpu,
      ...(workBefore && workAfter
        ? { db: workBetween(workBefore.work, workAfter.work), memory: workAfter.memory }
        : {}),
    };
  } finally {
    rss.stop();
  }
}

/** Requests that failed in a summary: unexpected responses plus connection errors. */
export const failures = (s: LoadSummary | undefined) => (s ? s.unexpected + s.errors : 0);
