// /users: people. Create (without roles: those are admin:roles), search with pagination, show,
// lock, unlock, disable, enable, reset second factors, and end every session and grant.
import type { User as UserModel } from '../../accounts/accounts.ts';
import { notFound } from '../../errors.ts';
import type { AdminContext } from '../context.ts';
import { type AnyRoute, defineRoute, iso, isoOrNull } from '../route.ts';
import {
  FactorsReset,
  SessionsRevoked,
  User,
  UserCreate,
  UserDetail,
  UserIdParams,
  UserPage,
  UserSearch,
} from '../schemas.ts';

const TAG = 'Users';
const SCOPE = 'admin:users';

export const userJson = (u: UserModel) => ({
  ...u,
  createdAt: iso(u.createdAt),
  passwordChangedAt: isoOrNull(u.passwordChangedAt),
  lastLoginAt: isoOrNull(u.lastLoginAt),
});

const STATUS_CHANGES = [
  ['lock', 'locked', 'Lock an account: it cannot sign in until unlocked'],
  ['unlock', 'unlocked', 'Unlock an account (also lifts a lock from failed sign-ins)'],
  [
    'disable',
    'disabled',
    'Disable an account: no sign-in, its sessions end (its applications are told), its tokens stop being refreshed',
  ],
  ['enable', 'enabled', 'Enable a disabled account'],
] as const;

export function userRoutes({ services }: AdminContext): AnyRoute[] {
  const { accounts, factors, grants } = services;

  async function requireUser(userId: string): Promise<UserModel> {
    const found = await accounts.get(userId);
    if (!found) throw notFound(`no user ${userId}`);
    return found;
  }

  const statusRoutes = STATUS_CHANGES.map(([verb, done, summary]) =>
    defineRoute({
      method: 'post',
      path: `/users/{userId}/${verb}`,
      operationId: `${verb}User`,
      summary,
      tag: TAG,
      scope: SCOPE,
      params: UserIdParams,
      response: User,
      errors: [404],
      async handler({ params, audit }) {
        const before = await requireUser(params.userId);
        const after = await accounts[verb](params.userId);
        await audit(
          `user.${done}`,
          { type: 'user', id: after.id },
          { before: before.status, after: after.status },
        );
        return userJson(after);
      },
    }),
  );

  return [
    defineRoute({
      method: 'get',
      path: '/users',
      operationId: 'searchUsers',
      summary: 'Search users by email or name, a page at a time',
      tag: TAG,
      scope: SCOPE,
      query: UserSearch,
      response: UserPage,
      async handler({ query }) {
        const { users, total } = await accounts.search({
          text: query.q,
          limit: query.limit,
          offset: query.offset,
        });
        return { users: users.map(userJson), total, limit: query.limit, offset: query.offset };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/users',
      operationId: 'createUser',
      summary: 'Create a user with a password (give roles with PUT /roles/{name}/members/{userId})',
      tag: TAG,
      scope: SCOPE,
      body: UserCreate,
      response: User,
      status: 201,
      errors: [409],
      async handler({ body, audit }) {
        const created = await accounts.create(body);
        await audit('user.created', { type: 'user', id: created.id }, { email: created.email });
        return userJson(created);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/users/{userId}',
      operationId: 'getUser',
      summary: 'Show a user, with failed sign-ins and second factors',
      tag: TAG,
      scope: SCOPE,
      params: UserIdParams,
      response: UserDetail,
      errors: [404],
      async handler({ params }) {
        const user = await requireUser(params.userId);
        const [lock, held] = await Promise.all([
          accounts.lockState(user.id),
          factors.summary(user.id),
        ]);
        return {
          ...userJson(user),
          failedSignIns: lock.failures,
          lockedUntil: isoOrNull(lock.lockedUntil),
          factors: {
            totp: held.totp,
            webauthnCredentials: held.credentials.length,
            recoveryCodesLeft: held.recoveryCodesLeft,
          },
        };
      },
    }),
    ...statusRoutes,
    defineRoute({
      method: 'post',
      path: '/users/{userId}/reset-factors',
      operationId: 'resetUserFactors',
      summary: 'Remove every second factor and recovery code; the user enrols again',
      tag: TAG,
      scope: SCOPE,
      params: UserIdParams,
      response: FactorsReset,
      errors: [404],
      async handler({ params, audit }) {
        const user = await requireUser(params.userId);
        const removed = await factors.resetAll(user.id);
        const out = {
          totp: removed.totp,
          webauthnCredentials: removed.credentials,
          recoveryCodes: removed.recoveryCodes,
        };
        // Audit keys avoid "otp" and "code", which the audit log redacts.
        await audit(
          'user.factors_reset',
          { type: 'user', id: user.id },
          {
            removed: {
              authenticatorApp: removed.totp,
              webauthn: removed.credentials,
              recovery: removed.recoveryCodes,
            },
          },
        );
        return { userId: user.id, removed: out };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/users/{userId}/revoke-sessions',
      operationId: 'revokeUserSessions',
      summary:
        'End every session and revoke every grant, token and code of a user (the applications they were signed in to are told: back-channel logout)',
      tag: TAG,
      scope: SCOPE,
      params: UserIdParams,
      response: SessionsRevoked,
      errors: [404],
      async handler({ params, audit }) {
        const user = await requireUser(params.userId);
        const revoked = await grants.revokeAll(user.id);
        await audit('user.sessions_revoked', { type: 'user', id: user.id }, { revoked });
        return { userId: user.id, revoked };
      },
    }),
  ];
}
