// Child processes of a bench run: servers and load generators. Every child is registered so a
// normal end, an error or Ctrl-C stops all of them; RSS is read from /proc while they run.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const children = new Set<ChildProcess>();

export interface ServerProcess {
  name: string;
  /** The process serving requests (on Node < 22.15 Portcullis' serve runs as a child: that child). */
  pid: number;
  /** The process the bench started, when it relaunched the server as its child (else none). */
  launcherPid?: number;
  url: string;
  child: ChildProcess;
  /** Where its stdout and stderr go. */
  logFile: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs a command to completion (output to `logFile`); rejects on a non-zero exit. */
export async function runCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
): Promise<void> {
  const fd = openSync(logFile, 'a');
  const child = track(spawn(process.execPath, args, { env, stdio: ['ignore', fd, fd] }));
  closeSync(fd);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code} (see ${logFile})`);
}

export interface StartOptions {
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  url: string;
  /** Path answering 200 once the server is ready. */
  readyPath: string;
  logFile: string;
  /**
   * The command may relaunch itself as a child (`portcullis serve` does on Node < 22.15, to
   * start with its memory settings): measure that child, and count the launcher too.
   */
  relaunches?: boolean;
}

/** The one child process of `pid`, if it has exactly one. */
export function onlyChild(pid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    return children.length === 1 && children[0] ? Number(children[0]) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts a server child (node `args`), waits until `readyPath` answers 200. */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const fd = openSync(options.logFile, 'a');
  const child = track(
    spawn(process.execPath, options.args, { env: options.env, stdio: ['ignore', fd, fd] }),
  );
  closeSync(fd);
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited !== undefined)
      throw new Error(`${options.name} exited with ${exited} (see ${options.logFile})`);
    try {
      const res = await fetch(`${options.url}${options.readyPath}`);
      if (res.status === 200) {
        await res.arrayBuffer();
        const relaunched = options.relaunches ? onlyChild(child.pid!) : undefined;
        return {
          name: options.name,
          pid: relaunched ?? child.pid!,
          ...(relaunched ? { launcherPid: child.pid! } : {}),
          url: options.url,
          child,
          logFile: options.logFile,
        };
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${options.name} did not become ready in 60s (see ${options.logFile})`);
}

/** Forks a TypeScript module with an IPC channel (the load generator). */
export function forkModule(modulePath: string): ChildProcess {
  return track(fork(modulePath, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' }));
}

/** SIGTERM to every child still running, SIGKILL to those still there after `graceMs`. */
export async function stopAll(graceMs = 8000): Promise<void> {
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, graceMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** Resident set size of a process in bytes (VmRSS), or 0 once it has gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used so far, in seconds; 0 once it has gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** True when `pid` is a local PostgreSQL process (so a remote server's pids are never misread). */
export function isLocalPostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('postgres');
  } catch {
    return false;
  }
}

/** Private (anonymous) resident memory of a process in bytes (RssAnon), or 0 once it has gone. */
export function anonRssBytes(pid: number): number {
  try {
    const match = /^RssAnon:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Samples the RSS of `pid` every `everyMs` until stopped; returns the maximum seen. A launcher's
 * private memory is added (its shared pages are the same node binary the server maps).
 */
export function sampleRss(pid: number, everyMs = 200, launcherPid?: number): { stop(): number } {
  const read = () => rssBytes(pid) + (launcherPid ? anonRssBytes(launcherPid) : 0);
  let max = read();
  const timer = setInterval(() => {
    max = Math.max(max, read());
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(max, read());
    },
  };
}
