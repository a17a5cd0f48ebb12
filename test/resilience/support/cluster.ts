// Two real Portcullis processes (`portcullis serve`, as `npm start` runs it) on one fresh
// PostgreSQL database, both connected through the suite's TCP proxy, plus an in-process app on
// the same database (direct connection) that seeds data and reads the audit log.
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapAdmin } from '../../../src/admin/bootstrap.ts';
import { type App, createApp } from '../../../src/app.ts';
import { loadConfig } from '../../../src/config.ts';
import { createLogger } from '../../../src/log.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { freePort, testSecrets } from '../../support/server.ts';
import { startTcpProxy, type TcpProxy } from '../../support/tcpProxy.ts';
import { liveHeapBytes } from './heap.ts';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'portcullis.js');
export const RES_API = 'https://ledger.api.example';
export const REDIRECT_URI = 'https://app.example/callback';
export const PASSWORD = 'correct horse battery staple';
export const KEYS_REFRESH_SECONDS = 2;

export interface Instance {
  name: 'A' | 'B';
  origin: string;
  child: ChildProcess;
  /** Every line the process wrote (stdout and stderr), also kept in `logFile`. */
  lines: string[];
  logFile: string;
  rssKiB(): number;
  /** Live JavaScript heap after a full collection, through the inspector (support/heap.ts). */
  liveHeapKiB(): Promise<number>;
}

export interface Cluster {
  issuer: string;
  db: TestDatabase;
  proxy: TcpProxy;
  seed: App;
  /** Environment for `portcullis` CLI runs on this database (direct connection). */
  cliEnv: Record<string, string>;
  instances: [Instance, Instance];
  web: { id: string; secret: string };
  /** Client-credentials clients of the load, one per worker. */
  machines: { id: string; secret: string }[];
  admin: { id: string; secret: string };
  /** Every secret the suite knows: none may appear in a response or a log line. */
  secrets: string[];
  close(): Promise<void>;
}

/**
 * The process serving requests: on Node < 22.15 `portcullis serve` runs the server as the only
 * child of a small launcher (bin/memory.js); measuring the launcher would see no growth at all.
 */
function servingPid(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return children ? Number(children.split(/\s+/)[0]) : pid;
}

const rssOf = (launcher: number) => {
  const pid = servingPid(launcher);
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : Number.NaN;
};

/** Polls `check` every `intervalMs` until it returns a value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function spawnInstance(
  name: 'A' | 'B',
  port: number,
  inspectPort: number,
  env: Record<string, string>,
  logDir: string,
): Instance {
  const logFile = join(logDir, `${name}.log`);
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      ...env,
      PORT: String(port),
      // The inspector stays closed until the memory check opens it with SIGUSR1 (heap.ts).
      NODE_OPTIONS: `--inspect-port=127.0.0.1:${inspectPort}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      lines.push(...parts.filter(Boolean));
      appendFileSync(logFile, parts.map((l) => `${l}\n`).join(''));
    });
  }
  child.on('exit', (code, signal) => {
    if (!stopping.has(child))
      appendFileSync(logFile, `[suite] instance ${name} exited: ${code ?? signal}\n`);
  });
  return {
    name,
    origin: `http://127.0.0.1:${port}`,
    child,
    lines,
    logFile,
    rssKiB: () => rssOf(child.pid!),
    liveHeapKiB: async () =>
      Math.round((await liveHeapBytes(servingPid(child.pid!), inspectPort)) / 1024),
  };
}

const stopping = new WeakSet<ChildProcess>();

async function stopInstance(instance: Instance): Promise<void> {
  const { child } = instance;
  stopping.add(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

export async function startCluster(): Promise<Cluster> {
  const db = await createTestDatabase('postgres');
  const direct = new URL(db.url!);
  const proxy = await startTcpProxy({
    host: direct.hostname,
    port: Number(direct.port || 5432),
  });
  const viaProxy = new URL(db.url!);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  const [portA, portB] = [await freePort(), await freePort()];
  // One issuer for both, as behind a load balancer: A's origin (B answers for it too).
  const issuer = `http://127.0.0.1:${portA}`;
  const secrets = testSecrets();
  const common = {
    NODE_ENV: 'test',
    ISSUER: issuer,
    HOST: '127.0.0.1',
    ...secrets,
    KEYS_REFRESH_SECONDS: String(KEYS_REFRESH_SECONDS),
    // Cheap hashing: the fuzzer posts thousands of sign-in forms; the cost is not what is tested.
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
    // Every request comes from 127.0.0.1: the per-address sign-in limit is not what is tested.
    IP_FAILURE_LIMIT: '10000000',
  };
  const seedConfig = loadConfig({
    ...common,
    PORT: String(portA),
    DATABASE_URL: db.url!,
    LOG_LEVEL: 'silent',
  });
  const seed = await createApp(seedConfig, { logger: createLogger('silent'), db });
  const { catalogue, clients, accounts, roles } = seed.services;
  await catalogue.create({
    identifier: RES_API,
    name: 'Ledger API',
    tokenFormat: 'opaque',
    accessTokenTtl: 300,
    scopes: [{ name: 'ledger:read', description: 'See your ledger' }],
  });
  await roles.create({ name: 'customer', scopes: ['ledger:read'] });
  for (const n of [1, 2, 3]) {
    await accounts.create({
      email: `user${n}@example.com`,
      name: `User ${n}`,
      password: PASSWORD,
      roles: ['customer'],
    });
  }
  const webCreated = await clients.create({
    name: 'Ledger app',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: [REDIRECT_URI],
    authMethod: 'client_secret_basic',
    apiAccess: { [RES_API]: ['ledger:read'] },
    firstParty: true,
  });
  const web = { id: webCreated.client.clientId, secret: webCreated.secret! };
  const machines: { id: string; secret: string }[] = [];
  for (const n of [1, 2, 3, 4]) {
    const made = await clients.create({
      name: `Batch job ${n}`,
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [RES_API]: ['ledger:read'] },
    });
    machines.push({ id: made.client.clientId, secret: made.secret! });
  }
  const boot = await bootstrapAdmin(seed.services, {
    issuer,
    email: 'ops@example.com',
    password: PASSWORD,
    force: false,
  });
  const admin = { id: boot.client.clientId, secret: boot.clientSecret! };

  const env = { ...common, DATABASE_URL: viaProxy.href, LOG_LEVEL: 'info' };
  // The processes' logs are kept for a failed run (their path is printed with the figures).
  const logDir = mkdtempSync(join(tmpdir(), 'portcullis-resilience-'));
  const instances: [Instance, Instance] = [
    spawnInstance('A', portA, await freePort(), env, logDir),
    spawnInstance('B', portB, await freePort(), env, logDir),
  ];
  const cluster: Cluster = {
    issuer,
    db,
    proxy,
    seed,
    cliEnv: { ...common, DATABASE_URL: db.url!, LOG_LEVEL: 'warn' },
    instances,
    web,
    machines,
    admin,
    secrets: [
      PASSWORD,
      web.secret,
      admin.secret,
      ...machines.map((m) => m.secret),
      ...secrets.COOKIE_KEYS!.split(','),
      secrets.ENCRYPTION_KEYS!.split(':')[1]!,
    ],
    async close() {
      await Promise.all(instances.map(stopInstance));
      await proxy.close();
      await seed.close();
      await db.drop();
    },
  };
  try {
    for (const instance of instances) {
      await waitFor(
        `instance ${instance.name} to be ready`,
        async () => {
          if (instance.child.exitCode !== null)
            throw new Error(
              `instance ${instance.name} exited:\n${instance.lines.slice(-20).join('\n')}`,
            );
          const res = await fetch(`${instance.origin}/readyz`).catch(() => undefined);
          return res?.status === 200 ? true : undefined;
        },
        60_000,
        200,
      );
    }
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}
