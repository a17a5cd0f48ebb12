// The framework ceiling: a bare Koa app in its own process (targets/koaServer.ts).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startServer } from '../processes.ts';
import type { Target } from './types.ts';

const SERVER = fileURLToPath(new URL('./koaServer.ts', import.meta.url));

export async function startKoa(runDir: string): Promise<Target> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServer({
    name: 'koa',
    args: ['--import', 'tsx', SERVER],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      BENCH_KOA_PORT: String(port),
    },
    url,
    readyPath: '/',
    logFile: join(runDir, 'koa.log'),
  });
  return { name: 'koa', server, issuer: url };
}
