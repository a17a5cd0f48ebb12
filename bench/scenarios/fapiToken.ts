// Scenario 9: the FAPI 2.0 token request of a machine client: client credentials with a fresh
// private_key_jwt assertion and a fresh DPoP proof per request, for a DPoP-bound JWT.
import type { FapiTokenOptions } from '../requests/fapiToken.ts';
import { JWT_API } from '../world.ts';
import type { Scenario } from './types.ts';

export const fapiToken: Scenario = {
  number: 9,
  title: 'FAPI 2.0 token request: client credentials → DPoP-bound JWT, private_key_jwt + DPoP',
  measures:
    'what a FAPI 2.0 client pays per token: two ES256 verifications (assertion and DPoP proof), ' +
    'two replay-detection entries written (both jti), a key thumbprint bound into the JWT',
  goal: { ratio: 0.7, of: 'baseline' },
  async prepare(env, target) {
    const options: FapiTokenOptions = {
      path: '/token',
      clientId: env.world.fapi.clientId,
      privateJwk: env.world.fapi.privateJwk,
      issuer: target.issuer,
      form: {
        grant_type: 'client_credentials',
        resource: JWT_API.identifier,
        scope: JWT_API.scope,
      },
      // token_type DPoP: the token is bound to the proof's key, not a Bearer token.
      expect: { status: 200, bodyIncludes: '"token_type":"DPoP"' },
    };
    return { module: 'fapiToken', options };
  },
};
