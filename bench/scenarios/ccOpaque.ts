// Scenario 3: client credentials for an opaque access token, which is stored.
import type { FormOptions } from '../requests/form.ts';
import { basicAuthorization, OPAQUE_API } from '../world.ts';
import type { Scenario } from './types.ts';

export const ccOpaque: Scenario = {
  number: 3,
  title: 'client credentials → opaque token (persisted), client_secret_basic',
  measures:
    'token issuance with one write per request: Portcullis inserts a hashed row in PostgreSQL, ' +
    'the baseline writes to memory',
  goal: { ratio: 0.7, of: 'baseline' },
  async prepare(env) {
    const options: FormOptions = {
      path: '/token',
      headers: { authorization: basicAuthorization(env.world) },
      form: {
        grant_type: 'client_credentials',
        resource: OPAQUE_API.identifier,
        scope: OPAQUE_API.scope,
      },
      expect: { status: 200, bodyIncludes: '"access_token"' },
    };
    return { module: 'form', options };
  },
};
