// Starts a complete Portcullis on its own database and a free loopback port, as production
// would run it, for tests that speak HTTP to it.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { type App, createApp } from '../../src/app.ts';
import { type Clock, systemClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

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

export function testSecrets(): Record<string, string> {
  return {
    COOKIE_KEYS: randomBytes(32).toString('base64url'),
    ENCRYPTION_KEYS: `t1:${randomBytes(32).toString('base64')}`,
  };
}

/** Passes test/run.js' AUDIT_COVERAGE_DIR on to a server or CLI run with an environment of its own. */
export function auditCoverageEnv(): Record<string, string> {
  const dir = process.env.AUDIT_COVERAGE_DIR;
  return dir ? { AUDIT_COVERAGE_DIR: dir } : {};
}

export interface TestServer {
  app: App;
  issuer: string;
  db: TestDatabase;
  url(path: string): string;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Extra environment; a function gets the port chosen (for settings that name it). */
  env?: Record<string, string> | ((port: number) => Record<string, string>);
  /** ISSUER is https (the environment must make Portcullis serve TLS: TLS_CERT_FILE...). */
  https?: boolean;
  clock?: Clock;
  /** Share a database (and its secrets) with another instance. */
  db?: TestDatabase;
  /** Collects every log line (at info level) here, for tests that inspect the logs. */
  logs?: string[];
  /** Host name of the issuer: "localhost" for WebAuthn, which refuses IP addresses as RP ID. */
  hostname?: '127.0.0.1' | 'localhost';
  /** The provider's outgoing requests (CIBA pings to a test receiver with its own CA). */
  fetch?: typeof fetch;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const port = await freePort();
  const hostname = options.hostname ?? '127.0.0.1';
  const issuer = `${options.https ? 'https' : 'http'}://${hostname}:${port}`;
  const db = options.db ?? (await createTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    ISSUER: issuer,
    PORT: String(port),
    LOG_LEVEL: options.logs ? 'info' : (process.env.TEST_LOG_LEVEL ?? 'silent'),
    SWEEP_INTERVAL_SECONDS: '0',
    ...auditCoverageEnv(),
    ...testSecrets(),
    ...(typeof options.env === 'function' ? options.env(port) : options.env),
  });
  const sink = options.logs;
  const logger = createLogger(
    config.logLevel,
    sink
      ? new Writable({
          write(chunk, _encoding, done) {
            sink.push(...String(chunk).split('\n').filter(Boolean));
            done();
          },
        })
      : undefined,
  );
  const app = await createApp(config, {
    logger,
    db,
    clock: options.clock ?? systemClock,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  // localhost may resolve to ::1 or 127.0.0.1: listen on both then.
  await app.listen(port, hostname === 'localhost' ? '::' : '127.0.0.1');
  return {
    app,
    issuer,
    db,
    url: (path) => `${issuer}${path}`,
    async close() {
      await app.close();
      if (!options.db) await db.drop();
    },
  };
}
