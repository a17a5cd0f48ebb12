// Runs Debian's nginx (installed by .ci/run's ensure_nginx) in the foreground on a configuration
// written by the test, in a temporary directory of its own; stopped by the test that started it.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

export interface RunningNginx {
  stop(): Promise<void>;
}

/** Debian installs it in /usr/sbin, which a non-root PATH may leave out. */
const NGINX =
  process.env.NGINX_PATH ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts nginx with `http` as the body of its http block and waits until every port in `ports`
 * accepts connections. The process runs without a master (one process, no user switch).
 */
export async function startNginx(
  dir: string,
  http: string,
  ports: number[],
): Promise<RunningNginx> {
  const prefix = join(dir, 'nginx');
  mkdirSync(prefix, { recursive: true });
  const errorLog = join(prefix, 'error.log');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((name) => `  ${name}_temp_path ${join(prefix, name)};`)
    .join('\n');
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${errorLog} warn;
events { worker_connections 256; }
http {
  access_log off;
${temp}
${http}
}
`,
  );
  const child: ChildProcess = spawn(NGINX, ['-p', prefix, '-c', conf, '-e', errorLog], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const failure = (why: string) => {
    let log = '';
    try {
      log = readFileSync(errorLog, 'utf8');
    } catch {}
    return new Error(`nginx ${why}: ${stderr}${log}`);
  };
  const until = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw failure(`exited with ${child.exitCode}`);
    if ((await Promise.all(ports.map(accepts))).every(Boolean)) break;
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw failure('did not listen within 10 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
