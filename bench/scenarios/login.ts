// Scenarios 6 and 7: whole sign-ins over HTTP without a browser, password only and password +
// TOTP, on Portcullis alone (the baseline has no login), compared with the Argon2 ceiling.
import { join } from 'node:path';
import type { LoginOptions } from '../requests/login.ts';
import type { LoginUser } from '../requests/loginFlow.ts';
import type { Target } from '../targets/types.ts';
import { argon2Ceiling } from './argon2Ceiling.ts';
import { loginFlowOptions, loginOnce } from './loginOnce.ts';
import type { Scenario, ScenarioEnv } from './types.ts';

const MFA_ACR = 'urn:portcullis:ac:mfa';

async function prepareLogin(
  env: ScenarioEnv,
  target: Target,
  name: string,
  users: LoginUser[],
  extra?: Record<string, string>,
) {
  const o = loginFlowOptions(env.world, extra);
  // The first user is the dry run's, so its TOTP code cannot collide with the load's.
  const [dryRun, ...pool] = users;
  const { hops } = await loginOnce(target, o, dryRun!);
  env.say(`a sign-in takes ${hops} requests and a code exchange`);
  const options: LoginOptions = {
    ...o,
    users: pool,
    hops,
    stateFile: join(env.runDir, `${name}-${target.name}.json`),
    expect: { status: 200, bodyIncludes: '"id_token"' },
  };
  return { module: 'login' as const, options };
}

export const login: Scenario = {
  number: 6,
  title: 'authorization code + PKCE sign-in, password only (authorize, login, consent, token)',
  measures:
    'a whole sign-in as a browser without JavaScript does it: every redirect, the login and ' +
    'consent pages and forms, one Argon2 verification, the code exchange',
  goal: { ratio: 0.7, of: 'argon2 ceiling' },
  targets: ['portcullis'],
  prepare: (env, target) =>
    prepareLogin(
      env,
      target,
      'login',
      env.world.people.passwordUsers.map((email) => ({ email })),
    ),
  ceiling: argon2Ceiling,
};

export const loginTotp: Scenario = {
  number: 7,
  title: 'the same sign-in with password + TOTP (acr_values=mfa)',
  measures:
    'scenario 6 plus the second-factor page and a TOTP code (opened seed, single-use step ' +
    'recorded); a pool of users so no code is reused',
  goal: { ratio: 0.7, of: 'argon2 ceiling' },
  targets: ['portcullis'],
  prepare: (env, target) =>
    prepareLogin(env, target, 'login-totp', env.world.people.totpUsers, { acr_values: MFA_ACR }),
  ceiling: argon2Ceiling,
};
