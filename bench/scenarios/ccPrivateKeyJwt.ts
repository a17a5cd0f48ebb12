// Scenario 2: client credentials with private_key_jwt, a fresh client assertion per request.
import type { ClientAssertionOptions } from '../requests/clientAssertion.ts';
import { JWT_API } from '../world.ts';
import type { Scenario } from './types.ts';

export const ccPrivateKeyJwt: Scenario = {
  number: 2,
  title: 'client credentials → JWT, private_key_jwt (fresh assertion each request)',
  measures:
    'FAPI-style client authentication: an ES256 verification of the assertion and one ' +
    'replay-detection entry written per request (jti), on top of scenario 1',
  goal: { ratio: 0.75, of: 'baseline' },
  async prepare(env, target) {
    const options: ClientAssertionOptions = {
      path: '/token',
      clientId: env.world.signed.clientId,
      privateJwk: env.world.signed.privateJwk,
      audience: target.issuer,
      form: {
        grant_type: 'client_credentials',
        resource: JWT_API.identifier,
        scope: JWT_API.scope,
      },
      expect: { status: 200, bodyIncludes: '"access_token"' },
    };
    return { module: 'clientAssertion', options };
  },
};
