// The baseline: bare oidc-provider in its own process (targets/baselineServer.ts) with the same
// signing key, client metadata, token formats and lifetimes as Portcullis, and no Portcullis code.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startServer } from '../processes.ts';
import type { World } from '../world.ts';
import type { BaselineConfig } from './baselineServer.ts';
import type { Target } from './types.ts';

const SERVER = fileURLToPath(new URL('./baselineServer.ts', import.meta.url));

export async function startBaseline(
  world: World,
  runDir: string,
  cpuProfile = false,
): Promise<Target> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const config: BaselineConfig = {
    issuer,
    port,
    jwks: world.signingJwks as Record<string, unknown>[],
    clients: world.clientMetadata,
    apis: world.apis,
    fapiClients: [world.fapi.clientId],
  };
  const server = await startServer({
    name: 'baseline',
    args: [
      ...(cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', join(runDir, 'profile-baseline')] : []),
      '--import',
      'tsx',
      SERVER,
    ],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      NODE_NO_WARNINGS: '1',
      BENCH_BASELINE_CONFIG: JSON.stringify(config),
    },
    url: issuer,
    readyPath: '/.well-known/openid-configuration',
    logFile: join(runDir, 'baseline.log'),
  });
  return { name: 'baseline', server, issuer };
}
