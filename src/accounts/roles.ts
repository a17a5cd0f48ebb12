// Roles: named sets of API scopes. A person's access token only ever carries scopes one of
// their roles grants (and the client may ask for, and they consented to).
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import { conflict, invalid, notFound } from '../errors.ts';
import { createAccountStore } from './store.ts';

export interface Role {
  id: string;
  name: string;
  description: string;
  scopes: string[];
  members: number;
}

const ROLE_NAME = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;

export interface RolesOptions {
  knex: Knex;
  clock: Clock;
  /** Every scope some API in the catalogue defines: a role can only grant those. */
  knownScopes: () => Promise<Set<string>>;
}

export function createRoles({ knex, clock, knownScopes }: RolesOptions) {
  const store = createAccountStore(knex);

  async function checkScopes(scopes: string[]): Promise<string[]> {
    const known = await knownScopes();
    const unique = [...new Set(scopes)].sort();
    for (const s of unique) {
      if (!known.has(s)) throw invalid(`no registered API defines the scope ${s}`, 'scopes');
    }
    return unique;
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
    return (await store.listRoles()).find((r) => r.name === name);
  }

  return {
    async create(input: {
      name: string;
      description?: string | undefined;
      scopes: string[];
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
      await store.insertRole(
        {
          id: randomUUID(),
          name: input.name,
          description: input.description?.trim() ?? '',
          created_at: now,
          updated_at: now,
        },
        scopes,
      );
      return (await find(input.name))!;
    },

    /** Replaces the scopes (and optionally the description) of a role. */
    async update(
      name: string,
      patch: { description?: string | undefined; scopes?: string[] | undefined },
    ): Promise<{ before: Role; after: Role }> {
      const role = await requireRole(name);
      const before = (await find(name))!;
      const scopes = patch.scopes ? await checkScopes(patch.scopes) : undefined;
      await store.updateRole(
        role.id,
        {
          updated_at: new Date(clock.now()),
          ...(patch.description !== undefined ? { description: patch.description.trim() } : {}),
        },
        scopes,
      );
      return { before, after: (await find(name))! };
    },

    async delete(name: string): Promise<Role> {
      const role = await find(name);
      if (!role) throw notFound(`no role named ${name}`);
      await store.deleteRole(role.id);
      return role;
    },

    list: (): Promise<Role[]> =>
      store.listRoles().then((roles) => roles.map(({ created_at: _c, updated_at: _u, ...r }) => r)),
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
