// Scenario 1: client credentials with client_secret_basic for a JWT access token (ES256).
import type { FormOptions } from '../requests/form.ts';
import { basicAuthorization, JWT_API } from '../world.ts';
import type { Scenario } from './types.ts';

export const ccJwt: Scenario = {
  number: 1,
  title: 'client credentials → JWT (ES256), client_secret_basic',
  measures:
    'the most common machine-to-machine call: client lookup, secret check, resource and scope ' +
    'policy, an ES256 signature; nothing is written to the database',
  goal: { ratio: 0.85, of: 'baseline' },
  async prepare(env) {
    const options: FormOptions = {
      path: '/token',
      headers: { authorization: basicAuthorization(env.world) },
      form: {
        grant_type: 'client_credentials',
        resource: JWT_API.identifier,
        scope: JWT_API.scope,
      },
      expect: { status: 200, bodyIncludes: '"access_token"' },
    };
    return { module: 'form', options };
  },
};
