// Roles: named sets of API scopes, each an (API, scope) pair since scope names are unique only
// within one API. A person's access token for an API only ever carries scopes one of their roles
// grants on that API (and the client may ask for, and they consented to).
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { conflict, invalid, notFound } from '../errors.ts';
import type { AccountStore, RoleScopeRow } from './store.ts';

/** API identifier -> scopes of that API: what a role grants (the shape of a client's apiAccess). */
export type ApiScopes = Record<string, string[]>;

/**
 * A role's scopes as given: the map, or a list whose items are `URI scope` pairs (the API's
 * identifier, a space, the scope) or bare scope names, a bare name only when exactly one API
 * defines it.
 */
export type RoleScopesInput = ApiScopes | readonly string[];

export interface Role {
  id: string;
  name: string;
  description: string;
  scopes: ApiScopes;
  members: number;
}

/** An API of the catalogue as roles see it. */
export interface ScopedApi {
  id: string;
  identifier: string;
  scopes: string[];
}

const ROLE_NAME = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;

export interface RolesOptions {
  store: AccountStore;
  clock: Clock;
  /** The APIs of the catalogue and the scopes each defines: a role can only grant those. */
  apis: () => Promise<ScopedApi[]>;
}

/** Pairs as the map, identifiers and scopes sorted. */
export function toApiScopes(pairs: { identifier: string; scope: string }[]): ApiScopes {
  const map: ApiScopes = {};
  const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const sorted = [...pairs].sort(
    (a, b) => byCodePoint(a.identifier, b.identifier) || byCodePoint(a.scope, b.scope),
  );
  for (const { identifier, scope } of sorted) {
    const list = map[identifier] ?? [];
    if (!list.includes(scope)) list.push(scope);
    map[identifier] = list;
  }
  return map;
}

/**
 * Resolves what was given to (API, scope) pairs against the catalogue. Throws `invalid` naming
 * the first scope no API defines, an unknown API, or a bare name several APIs define.
 */
export function resolveRoleScopes(input: RoleScopesInput, apis: ScopedApi[]): RoleScopeRow[] {
  const byIdentifier = new Map(apis.map((a) => [a.identifier, a]));
  const pairs: { identifier: string; scope: string }[] = [];
  if (Array.isArray(input)) {
    for (const item of input as string[]) {
      const text = item.trim();
      const space = text.lastIndexOf(' ');
      if (space > 0) {
        pairs.push({ identifier: text.slice(0, space).trim(), scope: text.slice(space + 1) });
        continue;
      }
      const defining = apis.filter((a) => a.scopes.includes(text));
      if (defining.length === 0)
        throw invalid(`no registered API defines the scope ${text}`, 'scopes');
      if (defining.length > 1) {
        throw invalid(
          `several APIs define the scope ${text} (${defining
            .map((a) => a.identifier)
            .sort()
            .join(', ')}): name the API with it`,
          'scopes',
        );
      }
      pairs.push({ identifier: defining[0]!.identifier, scope: text });
    }
  } else {
    for (const [identifier, scopes] of Object.entries(input as ApiScopes)) {
      for (const scope of scopes) pairs.push({ identifier, scope });
    }
  }
  const rows = new Map<string, RoleScopeRow>();
  for (const { identifier, scope } of pairs) {
    const api = byIdentifier.get(identifier);
    if (!api) throw invalid(`no API with identifier ${identifier} is registered`, 'scopes');
    if (!api.scopes.includes(scope))
      throw invalid(`the API ${identifier} does not define the scope ${scope}`, 'scopes');
    rows.set(`${api.id} ${scope}`, { api_id: api.id, scope });
  }
  return [...rows.values()];
}

/** The database refused a write because an API or scope went meanwhile, or the name was taken. */
function writeConflict(err: unknown, name: string): never {
  const code = (err as { code?: string }).code;
  if (code === '23503')
    throw conflict('an API or scope of this role was removed meanwhile: try again', 'scopes');
  if (code === '23505') throw conflict(`a role named ${name} already exists`, 'name');
  throw err;
}

export function createRoles({ store, clock, apis }: RolesOptions) {
  async function checkScopes(scopes: RoleScopesInput): Promise<RoleScopeRow[]> {
    return resolveRoleScopes(scopes, await apis());
  }

  async function requireRole(name: string) {
    const role = await store.findRoleByName(name);
    if (!role) throw notFound(`no role named ${name}`);
    return role;
  }

  async function requireUserId(email: string): Promise<string> {
    const user = await store.findUserByEmail(email);
    if (!user) throw notFound(`no user ${email}`);
    return user.id;
  }

  async function find(name: string): Promise<Role | undefined> {
    const role = (await store.listRoles()).find((r) => r.name === name);
    return role ? toRole(role) : undefined;
  }

  function toRole({
    created_at: _c,
    updated_at: _u,
    scopes,
    ...role
  }: Awaited<ReturnType<typeof store.listRoles>>[number]): Role {
    return { ...role, scopes: toApiScopes(scopes) };
  }

  return {
    async create(input: {
      name: string;
      description?: string | undefined;
      scopes: RoleScopesInput;
    }): Promise<Role> {
      if (!ROLE_NAME.test(input.name)) {
        throw invalid(
          'a role name is 1-64 lowercase letters, digits or . _ : - (starting with a letter or digit)',
          'name',
        );
      }
      const scopes = await checkScopes(input.scopes);
      if (await store.findRoleByName(input.name))
        throw conflict(`a role named ${input.name} already exists`, 'name');
      const now = new Date(clock.now());
      await store
        .insertRole(
          {
            id: randomUUID(),
            name: input.name,
            description: input.description?.trim() ?? '',
            created_at: now,
            updated_at: now,
          },
          scopes,
        )
        .catch((err) => writeConflict(err, input.name));
      return (await find(input.name))!;
    },

    /** Replaces the scopes (and optionally the description) of a role. */
    async update(
      name: string,
      patch: { description?: string | undefined; scopes?: RoleScopesInput | undefined },
    ): Promise<{ before: Role; after: Role }> {
      const role = await requireRole(name);
      const before = (await find(name))!;
      const scopes = patch.scopes ? await checkScopes(patch.scopes) : undefined;
      await store
        .updateRole(
          role.id,
          {
            updated_at: new Date(clock.now()),
            ...(patch.description !== undefined ? { description: patch.description.trim() } : {}),
          },
          scopes,
        )
        .catch((err) => writeConflict(err, name));
      return { before, after: (await find(name))! };
    },

    /** What `scopes` would resolve to, without writing anything (for checks before a change). */
    resolve: async (scopes: RoleScopesInput): Promise<ApiScopes> => {
      const byId = new Map((await apis()).map((a) => [a.id, a.identifier]));
      return toApiScopes(
        (await checkScopes(scopes)).map((r) => ({
          identifier: byId.get(r.api_id)!,
          scope: r.scope,
        })),
      );
    },

    async delete(name: string): Promise<Role> {
      const role = await find(name);
      if (!role) throw notFound(`no role named ${name}`);
      await store.deleteRole(role.id);
      return role;
    },

    list: async (): Promise<Role[]> => (await store.listRoles()).map(toRole),
    get: find,

    /** Gives a user a role; returns false when they had it already. */
    async grant(email: string, roleName: string): Promise<boolean> {
      const [userId, role] = await Promise.all([requireUserId(email), requireRole(roleName)]);
      return store.grantRole(userId, role.id, new Date(clock.now()));
    },

    /** Takes a role from a user; returns false when they did not have it. */
    async revoke(email: string, roleName: string): Promise<boolean> {
      const [userId, role] = await Promise.all([requireUserId(email), requireRole(roleName)]);
      return store.revokeRole(userId, role.id);
    },
  };
}

export type Roles = ReturnType<typeof createRoles>;
