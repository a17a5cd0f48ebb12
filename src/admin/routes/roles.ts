// /roles: named sets of (API, scope) pairs, and who has them. Every change is audited with the
// role or the user's roles before and after. Admin API scopes on a role, or a role carrying them
// given to someone, need admin:grant-admin and each of those scopes (see auth.ts).
import type { ApiScopes, Role as RoleModel } from '../../accounts/roles.ts';
import type { AuditAction } from '../../audit/kinds.ts';
import { notFound } from '../../errors.ts';
import { adminApiIdentifier } from '../adminApi.ts';
import { type Principal, requireGrantable } from '../auth.ts';
import type { AdminContext } from '../context.ts';
import { type AnyRoute, defineRoute } from '../route.ts';
import {
  Role,
  RoleCreate,
  RoleList,
  RoleMemberParams,
  RoleMembership,
  RoleParams,
  RoleUpdate,
} from '../schemas.ts';

const TAG = 'Roles';
const SCOPE = 'admin:roles';

const roleJson = ({ id: _id, ...role }: RoleModel) => role;

export function roleRoutes({ issuer, services }: AdminContext): AnyRoute[] {
  const { roles, accounts } = services;
  const audience = adminApiIdentifier(issuer);
  const adminScopesOf = (scopes: ApiScopes) =>
    Object.hasOwn(scopes, audience) ? (scopes[audience] ?? []) : [];

  async function requireRole(name: string): Promise<RoleModel> {
    const found = await roles.get(name);
    if (!found) throw notFound(`no role named ${name}`);
    return found;
  }

  /** Gives or takes a role; records the user's roles before and after when it changed. */
  function membership(kind: 'grant' | 'revoke') {
    return async ({
      params,
      principal,
      audit,
    }: {
      params: { name: string; userId: string };
      principal: Principal;
      audit: (
        a: AuditAction,
        t: { type: string; id: string },
        d: Record<string, unknown>,
      ) => Promise<void>;
    }) => {
      const user = await accounts.get(params.userId);
      if (!user) throw notFound(`no user ${params.userId}`);
      const role = await requireRole(params.name);
      // Giving a role hands out its admin scopes; taking one away hands out nothing.
      if (kind === 'grant') requireGrantable(principal, adminScopesOf(role.scopes));
      const changed = await roles[kind](user.email, params.name);
      const after = (await accounts.get(user.id))?.roles ?? [];
      if (changed) {
        await audit(
          kind === 'grant' ? 'role.granted' : 'role.revoked',
          { type: 'user', id: user.id },
          { role: params.name, before: user.roles, after },
        );
      }
      return { role: params.name, userId: user.id, changed, roles: after };
    };
  }

  return [
    defineRoute({
      method: 'get',
      path: '/roles',
      operationId: 'listRoles',
      summary: 'List roles with their scopes and number of members',
      tag: TAG,
      scope: SCOPE,
      response: RoleList,
      handler: async () => ({ roles: (await roles.list()).map(roleJson) }),
    }),
    defineRoute({
      method: 'post',
      path: '/roles',
      operationId: 'createRole',
      summary: 'Create a role granting API scopes',
      tag: TAG,
      scope: SCOPE,
      body: RoleCreate,
      response: Role,
      status: 201,
      errors: [409],
      async handler({ body, principal, audit }) {
        const scopes = await roles.resolve(body.scopes);
        requireGrantable(principal, adminScopesOf(scopes));
        const created = await roles.create({ ...body, scopes });
        await audit(
          'role.created',
          { type: 'role', id: created.name },
          { scopes: created.scopes, description: created.description },
        );
        return roleJson(created);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/roles/{name}',
      operationId: 'getRole',
      summary: 'Show a role',
      tag: TAG,
      scope: SCOPE,
      params: RoleParams,
      response: Role,
      errors: [404],
      handler: async ({ params }) => roleJson(await requireRole(params.name)),
    }),
    defineRoute({
      method: 'patch',
      path: '/roles/{name}',
      operationId: 'updateRole',
      summary: "Change a role's description or scopes (replaced whole)",
      tag: TAG,
      scope: SCOPE,
      params: RoleParams,
      body: RoleUpdate,
      response: Role,
      errors: [404],
      async handler({ params, body, principal, audit }) {
        const current = await requireRole(params.name);
        const scopes = body.scopes ? await roles.resolve(body.scopes) : undefined;
        if (scopes) {
          const held = new Set(adminScopesOf(current.scopes));
          requireGrantable(
            principal,
            adminScopesOf(scopes).filter((s) => !held.has(s)),
          );
        }
        const { before, after } = await roles.update(params.name, { ...body, scopes });
        await audit(
          'role.updated',
          { type: 'role', id: params.name },
          {
            before: { scopes: before.scopes, description: before.description },
            after: { scopes: after.scopes, description: after.description },
          },
        );
        return roleJson(after);
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/roles/{name}',
      operationId: 'deleteRole',
      summary: 'Delete a role (its members lose its scopes)',
      tag: TAG,
      scope: SCOPE,
      params: RoleParams,
      errors: [404],
      async handler({ params, audit }) {
        const removed = await roles.delete(params.name);
        await audit(
          'role.deleted',
          { type: 'role', id: removed.name },
          { scopes: removed.scopes, members: removed.members },
        );
        return undefined;
      },
    }),
    defineRoute({
      method: 'put',
      path: '/roles/{name}/members/{userId}',
      operationId: 'assignRole',
      summary: 'Give a user a role',
      tag: TAG,
      scope: SCOPE,
      params: RoleMemberParams,
      response: RoleMembership,
      errors: [404],
      handler: membership('grant'),
    }),
    defineRoute({
      method: 'delete',
      path: '/roles/{name}/members/{userId}',
      operationId: 'unassignRole',
      summary: 'Take a role from a user',
      tag: TAG,
      scope: SCOPE,
      params: RoleMemberParams,
      response: RoleMembership,
      errors: [404],
      handler: membership('revoke'),
    }),
  ];
}
