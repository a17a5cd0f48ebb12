// Users: creation with a checked password, lookups, status changes (lock, unlock, disable) and
// password changes. Sign-in itself, with its throttling, is in authenticate.ts.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { conflict, invalid, notFound } from '../errors.ts';
import { checkPassword, normalizePassword } from './passwordPolicy.ts';
import type { PasswordHasher } from './passwords.ts';
import { type ApiScopes, toApiScopes } from './roles.ts';
import type { AccountStore, UserRow, UserStatus } from './store.ts';
import type { ThrottleStore } from './throttleStore.ts';

export interface User {
  id: string;
  email: string;
  name: string;
  status: UserStatus;
  emailVerified: boolean;
  hasPassword: boolean;
  roles: string[];
  createdAt: Date;
  passwordChangedAt: Date | null;
  lastLoginAt: Date | null;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function validateEmail(email: string): string {
  const trimmed = email.trim();
  if (!EMAIL.test(trimmed) || trimmed.length > 254)
    throw invalid('enter a valid email address', 'email');
  return trimmed;
}

function toUser(row: UserRow, roles: string[]): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    status: row.status,
    emailVerified: row.email_verified,
    hasPassword: row.password_hash !== null,
    roles,
    createdAt: row.created_at,
    passwordChangedAt: row.password_changed_at,
    lastLoginAt: row.last_login_at,
  };
}

export interface AccountsOptions {
  /** The accounts tables' store and the sign-in counters' store, shared with the other services. */
  store: AccountStore;
  throttle: ThrottleStore;
  clock: Clock;
  hasher: PasswordHasher;
}

/** A PHC-format Argon2id hash: $argon2id$v=19$m=…,p=…,t=…$salt$hash (parameters in any order). */
const ARGON2ID_HASH =
  /^\$argon2id\$v=19\$[mpt]=\d+(,[mpt]=\d+){2}\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

export function createAccounts({ store, throttle, clock, hasher }: AccountsOptions) {
  async function withRoles(rows: UserRow[]): Promise<User[]> {
    const roles = await store.rolesOfUsers(rows.map((r) => r.id));
    return rows.map((r) =>
      toUser(
        r,
        roles.filter((x) => x.user_id === r.id).map((x) => x.name),
      ),
    );
  }

  /** A user by id with every scope their roles grant (by API identifier), in one query. */
  async function withScopes(id: string): Promise<{ user: User; scopes: ApiScopes } | undefined> {
    if (!UUID.test(id)) return undefined;
    const row = await store.findUserWithAccess(id);
    if (!row) return undefined;
    const { role_names, role_scopes, ...user } = row;
    return { user: toUser(user, role_names), scopes: role_scopes };
  }

  /** A user by email or id; an id that is not a UUID simply finds no one. */
  async function findRow(idOrEmail: string): Promise<UserRow | undefined> {
    if (idOrEmail.includes('@')) return store.findUserByEmail(idOrEmail);
    return UUID.test(idOrEmail) ? store.findUserById(idOrEmail) : undefined;
  }

  async function requireUser(idOrEmail: string): Promise<UserRow> {
    const row = await findRow(idOrEmail);
    if (!row) throw notFound(`no user ${idOrEmail}`);
    return row;
  }

  async function setStatus(idOrEmail: string, status: UserStatus): Promise<User> {
    const row = await requireUser(idOrEmail);
    await store.updateUser(row.id, { status, updated_at: new Date(clock.now()) });
    if (status === 'active') await throttle.clearFailures(row.id);
    return (await withRoles([{ ...row, status }]))[0]!;
  }

  return {
    async create(input: {
      email: string;
      name?: string | undefined;
      password: string;
      roles?: string[] | undefined;
    }): Promise<User> {
      const email = validateEmail(input.email);
      const name = (input.name ?? '').trim();
      if (name.length > 200) throw invalid('a name has at most 200 characters', 'name');
      checkPassword(input.password, { email, name });
      if (await store.findUserByEmail(email))
        throw conflict('a user with this email address already exists', 'email');
      const roleIds: string[] = [];
      for (const roleName of new Set(input.roles ?? [])) {
        const role = await store.findRoleByName(roleName);
        if (!role) throw invalid(`no role named ${roleName}`, 'roles');
        roleIds.push(role.id);
      }
      const now = new Date(clock.now());
      const row: UserRow = {
        id: randomUUID(),
        email,
        name,
        password_hash: await hasher.hash(normalizePassword(input.password)),
        status: 'active',
        email_verified: false,
        created_at: now,
        updated_at: now,
        password_changed_at: now,
        last_login_at: null,
      };
      try {
        await store.insertUser(row, roleIds, now);
      } catch (err) {
        // Two creations of one email at once: the unique index decides.
        if ((err as { code?: string }).code === '23505')
          throw conflict('a user with this email address already exists', 'email');
        throw err;
      }
      return (await withRoles([row]))[0]!;
    },

    /**
     * Imports people whose passwords are already Argon2id hashes (moving from another server, or
     * thousands of test users sharing one hash): no password is seen, so the policy cannot be
     * checked; a hash weaker than configured is upgraded at the person's next sign-in. All are
     * written or none. Returns the new users' ids and emails, in the order given.
     */
    async importUsers(
      people: { email: string; name?: string | undefined; passwordHash: string }[],
      roleNames: string[] = [],
    ): Promise<{ id: string; email: string }[]> {
      const seen = new Set<string>();
      const now = new Date(clock.now());
      const rows: UserRow[] = people.map((p, i) => {
        const email = validateEmail(p.email);
        const name = (p.name ?? '').trim();
        if (name.length > 200)
          throw invalid(`person ${i + 1}: a name has at most 200 characters`, 'name');
        if (!ARGON2ID_HASH.test(p.passwordHash))
          throw invalid(
            `person ${i + 1}: the password hash is not an Argon2id hash`,
            'passwordHash',
          );
        if (seen.has(email.toLowerCase()))
          throw conflict(`${email} appears twice in the import`, 'email');
        seen.add(email.toLowerCase());
        return {
          id: randomUUID(),
          email,
          name,
          password_hash: p.passwordHash,
          status: 'active',
          email_verified: false,
          created_at: now,
          updated_at: now,
          password_changed_at: now,
          last_login_at: null,
        };
      });
      const roleIds: string[] = [];
      for (const roleName of new Set(roleNames)) {
        const role = await store.findRoleByName(roleName);
        if (!role) throw invalid(`no role named ${roleName}`, 'roles');
        roleIds.push(role.id);
      }
      try {
        await store.insertUsers(rows, roleIds, now);
      } catch (err) {
        if ((err as { code?: string }).code === '23505')
          throw conflict('a user with one of these email addresses already exists', 'email');
        throw err;
      }
      return rows.map((r) => ({ id: r.id, email: r.email }));
    },

    async setPassword(idOrEmail: string, password: string): Promise<User> {
      const row = await requireUser(idOrEmail);
      checkPassword(password, { email: row.email, name: row.name });
      const now = new Date(clock.now());
      const password_hash = await hasher.hash(normalizePassword(password));
      await store.updateUser(row.id, { password_hash, password_changed_at: now, updated_at: now });
      return (await withRoles([{ ...row, password_changed_at: now }]))[0]!;
    },

    async get(idOrEmail: string): Promise<User | undefined> {
      if (!idOrEmail.includes('@')) return (await withScopes(idOrEmail))?.user;
      const row = await findRow(idOrEmail);
      return row ? (await withRoles([row]))[0] : undefined;
    },

    withScopes,

    /** Case-insensitive search over email and name, with offset pagination. */
    async search(
      q: { text?: string | undefined; limit?: number; offset?: number } = {},
    ): Promise<{ users: User[]; total: number }> {
      const { users, total } = await store.searchUsers({
        text: q.text?.trim() || undefined,
        limit: Math.min(Math.max(q.limit ?? 50, 1), 500),
        offset: Math.max(q.offset ?? 0, 0),
      });
      return { users: await withRoles(users), total };
    },

    /** An administrator's lock: the account cannot sign in until unlocked. */
    lock: (idOrEmail: string) => setStatus(idOrEmail, 'locked'),
    /** Lifts an administrator's lock and any temporary lock from failed sign-ins. */
    unlock: (idOrEmail: string) => setStatus(idOrEmail, 'active'),
    disable: (idOrEmail: string) => setStatus(idOrEmail, 'disabled'),
    enable: (idOrEmail: string) => setStatus(idOrEmail, 'active'),

    /** Failed sign-ins in a row and the temporary lock they caused, if any. */
    async lockState(idOrEmail: string) {
      const row = await requireUser(idOrEmail);
      const state = await throttle.lockState(row.id);
      const now = clock.now();
      return {
        failures: state?.failures ?? 0,
        lockedUntil:
          state?.lockedUntil && state.lockedUntil.getTime() > now ? state.lockedUntil : null,
      };
    },

    /** Every scope the user's roles grant, by API identifier. */
    scopesOf: async (userId: string): Promise<ApiScopes> =>
      toApiScopes(await store.scopesOfUser(userId)),
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
