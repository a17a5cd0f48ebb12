// Scenario 4: introspection of opaque tokens drawn from a pool of many distinct live tokens.
import type { TokenPoolOptions } from '../requests/tokenPool.ts';
import { basicAuthorization, OPAQUE_API } from '../world.ts';
import { issueOpaqueTokens } from './seed.ts';
import type { Scenario } from './types.ts';

export const introspection: Scenario = {
  number: 4,
  title: 'introspection of opaque tokens (pool of distinct live tokens)',
  measures:
    'what a resource server pays per API call with opaque tokens: client authentication and one ' +
    'token lookup by hash; the pool defeats any single-row caching',
  goal: { ratio: 0.8, of: 'baseline' },
  async prepare(env, target) {
    const key = `pool:${target.name}`;
    let tokens = env.memo.get(key) as string[] | undefined;
    if (!tokens && target.name !== 'koa') {
      env.say(`seeding ${env.options.poolSize} opaque tokens on ${target.name}`);
      tokens = await issueOpaqueTokens(
        target,
        env.world,
        OPAQUE_API.identifier,
        env.options.poolSize,
      );
      env.memo.set(key, tokens);
    }
    const options: TokenPoolOptions = {
      path: '/token/introspection',
      headers: { authorization: basicAuthorization(env.world) },
      form: { token_type_hint: 'access_token' },
      field: 'token',
      tokens: tokens ?? ['koa-ignores-the-token'],
      expect: { status: 200, bodyIncludes: '"active":true' },
    };
    return { module: 'tokenPool', options };
  },
};
