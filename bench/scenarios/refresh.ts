// Scenario 5: the refresh-token grant with rotation. Portcullis' tokens come from real sign-ins
// (so they carry a real grant, acr and session); the baseline, which has no login, creates the
// same grant and refresh token through its own models (targets/baselineServer.ts).
import { join } from 'node:path';
import type { RefreshChainOptions } from '../requests/refreshChain.ts';
import type { Target } from '../targets/types.ts';
import { JWT_API, loginClientAuthorization } from '../world.ts';
import { loginFlowOptions, loginOnce } from './loginOnce.ts';
import type { Scenario, ScenarioEnv } from './types.ts';

/** Every load process may strand one chain per connection (the request in flight at its end). */
function chainsNeeded(env: ScenarioEnv): number {
  const { connections, rounds, warmupSeconds } = env.options;
  const runs = rounds * (warmupSeconds > 0 ? 2 : 1);
  return connections * (runs + 2);
}

async function portcullisTokens(env: ScenarioEnv, target: Target, count: number) {
  const o = loginFlowOptions(env.world);
  const users = env.world.people.passwordUsers;
  const tokens: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const email = users[next++ % users.length]!;
      const { tokens: response } = await loginOnce(target, o, { email });
      if (typeof response.refresh_token !== 'string')
        throw new Error('portcullis: the code exchange returned no refresh token');
      tokens.push(response.refresh_token);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return tokens;
}

async function baselineTokens(target: Target, env: ScenarioEnv, count: number) {
  const res = await fetch(`${target.issuer}/bench/refresh-tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      count,
      clientId: env.world.people.client.clientId,
      scope: `openid ${JWT_API.scope}`,
      resource: JWT_API.identifier,
    }),
  });
  if (res.status !== 200)
    throw new Error(`baseline: seeding refresh tokens: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { tokens: string[] }).tokens;
}

export const refresh: Scenario = {
  number: 5,
  title: 'refresh-token grant with rotation → JWT access token',
  measures:
    'what a client pays to keep a session alive: look up and consume the refresh token, load ' +
    'its grant and account, issue a JWT and a new refresh token',
  goal: { ratio: 0.6, of: 'baseline' },
  async prepare(env, target) {
    const count = chainsNeeded(env);
    let tokens: string[] = ['the-koa-ceiling-ignores-it'];
    if (target.name !== 'koa') {
      env.say(`seeding ${count} refresh tokens on ${target.name}`);
      tokens =
        target.name === 'portcullis'
          ? await portcullisTokens(env, target, count)
          : await baselineTokens(target, env, count);
    }
    const options: RefreshChainOptions = {
      clientAuthorization: loginClientAuthorization(env.world),
      resource: JWT_API.identifier,
      tokens,
      stateFile: join(env.runDir, `refresh-${target.name}.json`),
      expect: { status: 200, bodyIncludes: '"refresh_token"' },
    };
    return { module: 'refreshChain', options };
  },
};
