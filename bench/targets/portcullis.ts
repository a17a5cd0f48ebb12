// Portcullis as production runs it: `portcullis migrate`, then `node bin/portcullis.js serve`
// with NODE_ENV=production on the bench database, seeded beforehand through its own services.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { freePort, runCommand, startServer } from '../processes.ts';
import { type SeedCounts, seedPortcullis, type World } from '../world.ts';
import type { Target } from './types.ts';

const CLI = fileURLToPath(new URL('../../bin/portcullis.js', import.meta.url));

export interface PortcullisOptions {
  databaseUrl: string;
  runDir: string;
  logLevel: string;
  poolMax: number | undefined;
  /**
   * Write V8 CPU profiles into runDir/profile-portcullis when the server stops (one per thread:
   * the largest is the main thread; the other is tsx's module loader).
   */
  cpuProfile: boolean;
  people: SeedCounts;
}

function serverEnv(
  options: PortcullisOptions,
  port: number,
  metricsPort: number,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    ISSUER: `http://127.0.0.1:${port}`,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: options.databaseUrl,
    COOKIE_KEYS: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    LOG_LEVEL: options.logLevel,
    // Scraped before and after each round for round trips and statements per request: a
    // listener of its own on loopback, so the main listener serves exactly what it does in
    // production and the scrapes never appear in its request log.
    METRICS_PORT: String(metricsPort),
    METRICS_HOST: '127.0.0.1',
    NODE_NO_WARNINGS: '1',
    // Every sign-in of the bench comes from 127.0.0.1: one address standing for many people, as
    // behind NAT. Passwords being checked count apart (IP_PENDING_LIMIT, 200), but a sign-in
    // that goes on to a second factor counts against its address until it completes, and the
    // TOTP scenario has up to 100 such at once, plus what a finished warm-up left in flight.
    IP_FAILURE_LIMIT: '1000000',
    IP_PENDING_LIMIT: '1000000',
    // To compare with the memory settings `portcullis serve` applies by default (README,
    // "Memory"): BENCH_MEMORY_SETTINGS=off starts it without them.
    ...(process.env.BENCH_MEMORY_SETTINGS === 'off' ? { MEMORY_SETTINGS: 'off' } : {}),
    // V8 flags of an experiment (e.g. a heap limit), passed to the server as NODE_OPTIONS; the
    // memory settings' own flags are added beside them unless the same flag is given here.
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
  };
  if (options.poolMax) env.DATABASE_POOL_MAX = String(options.poolMax);
  return env;
}

/** Migrates and seeds the bench database, then starts the server. */
export async function startPortcullis(
  options: PortcullisOptions,
): Promise<{ target: Target; world: World }> {
  const port = await freePort();
  let metricsPort = await freePort();
  while (metricsPort === port) metricsPort = await freePort();
  const env = serverEnv(options, port, metricsPort);
  const logFile = join(options.runDir, 'portcullis.log');
  await runCommand([CLI, 'migrate'], env, logFile);

  const app = await createApp(loadConfig(env), { logger: createLogger('warn', process.stderr) });
  let world: World;
  try {
    world = await seedPortcullis(app, options.people);
  } finally {
    await app.close();
  }

  const profile = options.cpuProfile
    ? ['--cpu-prof', '--cpu-prof-dir', join(options.runDir, 'profile-portcullis')]
    : [];
  const server = await startServer({
    name: 'portcullis',
    args: [...profile, CLI, 'serve'],
    env,
    url: env.ISSUER!,
    readyPath: '/readyz',
    logFile,
    relaunches: true,
  });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  return { target: { name: 'portcullis', server, issuer: env.ISSUER!, metricsUrl }, world };
}
