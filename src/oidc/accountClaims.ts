// What oidc-provider knows of a person: findAccount returns the account (or nothing when it is
// disabled or locked, which also stops its refresh tokens) and its claims, by scope.
import type { FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import type { Accounts } from '../accounts/accounts.ts';
import type { ApiScopes } from '../accounts/roles.ts';
import type { Api } from './catalogue.ts';

export function createFindAccount(accounts: Accounts): FindAccount {
  return async (_ctx, sub) => {
    const found = await accounts.withScopes(sub);
    if (found?.user.status !== 'active') return undefined;
    const { user, scopes } = found;
    return {
      accountId: user.id,
      // Read by narrowToRoles in the same request, so a token request looks the person up once.
      roleScopes: scopes,
      async claims(_use, scope) {
        const scopes = new Set((scope ?? '').split(' '));
        return {
          sub: user.id,
          ...(scopes.has('email') ? { email: user.email, email_verified: user.emailVerified } : {}),
          ...(scopes.has('profile') ? { name: user.name || undefined } : {}),
        };
      },
    };
  };
}

/**
 * At the token endpoint a person's token for an API carries only scopes one of their roles grants
 * on that API (a role for another API's scope of the same name counts for nothing): a role taken
 * away after consent takes effect at the next token. Client credentials have no person.
 */
export function narrowToRoles(accounts: Accounts) {
  return async (ctx: KoaContextWithOIDC, api: Api, scopes: string[]): Promise<string[]> => {
    const account = ctx.oidc.entities?.Account as
      | { accountId: string; roleScopes?: ApiScopes }
      | undefined;
    if (ctx.oidc.route !== 'token' || !account?.accountId) return scopes;
    const held = account.roleScopes ?? (await accounts.scopesOf(account.accountId));
    const allowed = new Set(held[api.identifier] ?? []);
    return scopes.filter((s) => allowed.has(s));
  };
}
