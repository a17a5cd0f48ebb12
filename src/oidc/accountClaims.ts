// What oidc-provider knows of a person: findAccount returns the account (or nothing when it is
// disabled or locked, which also stops its refresh tokens) and its claims, by scope.
import type { FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import type { Accounts } from '../accounts/accounts.ts';
import type { Api } from './catalogue.ts';

export function createFindAccount(accounts: Accounts): FindAccount {
  return async (_ctx, sub) => {
    const user = await accounts.get(sub);
    if (user?.status !== 'active') return undefined;
    return {
      accountId: user.id,
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
 * At the token endpoint a person's token carries only scopes one of their roles grants: a role
 * taken away after consent takes effect at the next token. Client credentials have no person.
 */
export function narrowToRoles(accounts: Accounts) {
  return async (ctx: KoaContextWithOIDC, _api: Api, scopes: string[]): Promise<string[]> => {
    const accountId = ctx.oidc.entities?.Account?.accountId;
    if (ctx.oidc.route !== 'token' || !accountId) return scopes;
    const allowed = new Set(await accounts.scopesOf(accountId));
    return scopes.filter((s) => allowed.has(s));
  };
}
