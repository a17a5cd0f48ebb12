// /initial-access-tokens: tokens that let one party register a client through RFC 7591, each
// with exactly the API access such a client gets. The token is shown once, stored hashed. One
// carrying admin API scopes needs admin:grant-admin and each of them (see auth.ts).
import { notFound } from '../../errors.ts';
import type { Allowance } from '../../oidc/registration.ts';
import { adminApiIdentifier } from '../adminApi.ts';
import { requireGrantable } from '../auth.ts';
import type { AdminContext } from '../context.ts';
import { type AnyRoute, defineRoute, iso } from '../route.ts';
import {
  InitialAccessTokenCreate,
  InitialAccessTokenIssued,
  InitialAccessTokenList,
  InitialAccessTokenParams,
} from '../schemas.ts';

const TAG = 'Dynamic registration';
const SCOPE = 'admin:clients';

const allowanceJson = (a: Allowance) => ({
  ...a,
  createdAt: iso(a.createdAt),
  expiresAt: iso(a.expiresAt),
});

export function initialAccessTokenRoutes({ issuer, services }: AdminContext): AnyRoute[] {
  const { registration } = services;
  const target = (id: string) => ({ type: 'initial_access', id });

  return [
    defineRoute({
      method: 'get',
      path: '/initial-access-tokens',
      operationId: 'listInitialAccessTokens',
      summary: 'List initial access tokens still usable (never their values)',
      tag: TAG,
      scope: SCOPE,
      response: InitialAccessTokenList,
      handler: async () => ({
        initialAccessTokens: (await registration.list()).map(allowanceJson),
      }),
    }),
    defineRoute({
      method: 'post',
      path: '/initial-access-tokens',
      operationId: 'createInitialAccessToken',
      summary:
        'Issue an initial access token for dynamic registration; the token is in the response only',
      tag: TAG,
      scope: SCOPE,
      body: InitialAccessTokenCreate,
      response: InitialAccessTokenIssued,
      status: 201,
      async handler({ body, principal, audit }) {
        const audience = adminApiIdentifier(issuer);
        requireGrantable(
          principal,
          Object.hasOwn(body.apiAccess, audience) ? (body.apiAccess[audience] ?? []) : [],
        );
        const { token, allowance } = await registration.issue({
          description: body.description,
          apiAccess: body.apiAccess,
          minAssuranceLevel: body.minAssuranceLevel,
          expiresInSeconds: body.expiresIn,
          singleUse: body.singleUse,
          profile: body.profile,
          createdBy: `${principal.actor.type}:${principal.actor.id}`,
        });
        await audit('initial_access.created', target(allowance.id), {
          description: allowance.description,
          apiAccess: allowance.apiAccess,
          minAssuranceLevel: allowance.minAssuranceLevel,
          singleUse: allowance.singleUse,
          expiresAt: iso(allowance.expiresAt),
          ...(allowance.profile === 'default' ? {} : { profile: allowance.profile }),
        });
        return { ...allowanceJson(allowance), token, registrationEndpoint: `${issuer}/reg` };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/initial-access-tokens/{id}',
      operationId: 'revokeInitialAccessToken',
      summary: 'Revoke an initial access token before it expires',
      tag: TAG,
      scope: SCOPE,
      params: InitialAccessTokenParams,
      errors: [404],
      async handler({ params, audit }) {
        if (!(await registration.revoke(params.id)))
          throw notFound('no such initial access token (it may have expired or been used)');
        await audit('initial_access.revoked', target(params.id));
        return undefined;
      },
    }),
  ];
}
