// SQL for users, roles, role_scopes and user_roles; only src/accounts/ touches these tables.
import type { Knex } from 'knex';
import { type AheadRows, forgettingOnWrite } from '../db/aheadReads.ts';
import { statement, statementRunner } from '../db/prepared.ts';
import { partOf, type StatementPart } from '../db/together.ts';
import { turnBatch } from '../db/turnBatch.ts';

export type UserStatus = 'active' | 'locked' | 'disabled';

export interface UserRow {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  status: UserStatus;
  email_verified: boolean;
  created_at: Date;
  updated_at: Date;
  password_changed_at: Date | null;
  last_login_at: Date | null;
}

export interface RoleRow {
  id: string;
  name: string;
  description: string;
  created_at: Date;
  updated_at: Date;
}

/** One scope a role grants: the API (its id in the catalogue) and a scope that API defines. */
export interface RoleScopeRow {
  api_id: string;
  scope: string;
}

/**
 * A user with the names of their roles and every scope those roles grant, by API identifier
 * (API identifier -> scopes of that API).
 */
export type UserWithAccess = UserRow & {
  role_names: string[];
  role_scopes: Record<string, string[]>;
};

/** A user's roles and their scopes per API, as columns beside `u.*` (users as `u`). */
const ACCESS_COLUMNS = `
     array(select r.name from user_roles ur join roles r on r.id = ur.role_id
           where ur.user_id = u.id order by r.name) as role_names,
     coalesce((select json_object_agg(x.identifier, x.scopes)
               from (select a.identifier, array_agg(distinct rs.scope order by rs.scope) as scopes
                     from user_roles ur
                     join role_scopes rs on rs.role_id = ur.role_id
                     join apis a on a.id = rs.api_id
                     where ur.user_id = u.id
                     group by a.identifier) x), '{}'::json) as role_scopes`;

/**
 * The lookup of every token request and page that names a person: the user, their roles and
 * their roles' scopes per API in one statement (three lookups otherwise), for every person asked
 * in one turn of the event loop (`n` is the asker's place).
 */
const USERS_WITH_ACCESS = statement(
  'accounts_users_with_access',
  `select k.n::int as n, u.*, ${ACCESS_COLUMNS}
   from unnest(?::uuid[]) with ordinality as k(id, n) join users u on u.id = k.id`,
);

const UUID_PATTERN = "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'";

/**
 * The same lookup as a read part of another store's statement (src/db/aheadReads.ts): the user
 * whose id is the SQL text expression `id` (anything else than a UUID finds no one), as
 * `(id text, payload jsonb)`. The artefacts' read-ahead carries it for the person a login step,
 * code or refresh token names, so the step's account lookup needs no statement of its own.
 */
export function userWithAccessAhead(id: string): string {
  return `select u.id::text as id, to_jsonb(x) as payload
    from users u cross join lateral (select u.*, ${ACCESS_COLUMNS}) x
    where u.id = case when ${id} ~* ${UUID_PATTERN} then (${id})::uuid end`;
}

/** A user read by `userWithAccessAhead`: JSON carries times as text, back to Dates. */
function fromAhead(json: Record<string, unknown>): UserWithAccess {
  const time = (v: unknown) => (typeof v === 'string' ? new Date(v) : null);
  const row = json as unknown as UserWithAccess;
  return {
    ...row,
    created_at: time(json.created_at)!,
    updated_at: time(json.updated_at)!,
    password_changed_at: time(json.password_changed_at),
    last_login_at: time(json.last_login_at),
  };
}

export interface AccountStoreOptions {
  prepared?: boolean;
  /**
   * The user with access read ahead for the request in progress (src/db/aheadReads.ts): its
   * JSON, `null` when looked for and not there, `false` when not read ahead.
   */
  readAhead?: AheadRows;
}

export function createAccountStore(knex: Knex, options: AccountStoreOptions = {}) {
  const run = statementRunner(knex, { prepared: options.prepared ?? false });
  const findWithAccess = turnBatch(async (ids: string[]) => {
    const { rows } = await run<UserWithAccess & { n: number }>(USERS_WITH_ACCESS, [ids]);
    const found: (UserWithAccess | undefined)[] = ids.map(() => undefined);
    for (const { n, ...row } of rows) found[n - 1] = row;
    return found;
  });
  const store = {
    /** A user with roles and scopes (id a UUID); the lookups of one turn are one statement. */
    findUserWithAccess(id: string): Promise<UserWithAccess | undefined> {
      const early = options.readAhead ? options.readAhead.take(id) : false;
      if (early !== false) return Promise.resolve(early === null ? undefined : fromAhead(early));
      return findWithAccess(id);
    },
    /** Inserts many users with the same roles in one transaction, a thousand rows at a time. */
    async insertUsers(rows: UserRow[], roleIds: string[], now: Date): Promise<void> {
      await knex.transaction(async (trx) => {
        for (let start = 0; start < rows.length; start += 1000) {
          const batch = rows.slice(start, start + 1000);
          await trx('users').insert(batch);
          const links = batch.flatMap((u) =>
            roleIds.map((role_id) => ({ user_id: u.id, role_id, granted_at: now })),
          );
          if (links.length) await trx('user_roles').insert(links);
        }
      });
    },
    async insertUser(row: UserRow, roleIds: string[], now: Date): Promise<void> {
      await knex.transaction(async (trx) => {
        await trx('users').insert(row);
        if (roleIds.length) {
          await trx('user_roles').insert(
            roleIds.map((role_id) => ({ user_id: row.id, role_id, granted_at: now })),
          );
        }
      });
    },
    findUserById: (id: string): Promise<UserRow | undefined> =>
      knex<UserRow>('users').where({ id }).first(),
    findUserByEmail: (email: string): Promise<UserRow | undefined> =>
      knex<UserRow>('users').whereRaw('lower(email) = lower(?)', [email]).first(),
    /**
     * The account a password sign-in names, as the lookup part of the statement that starts the
     * attempt (ThrottleStore.beginPasswordAttempt): its row, and `takes_password` (active with a
     * password: only then does the attempt count against its lockout). Any case of the email,
     * through the unique index on lower(email).
     */
    passwordSignInPart: (email: string): StatementPart => ({
      sql: `select users.*, (status = 'active' and password_hash is not null) as takes_password
            from users where lower(email) = lower(?) limit 1`,
      bindings: [email],
    }),
    async searchUsers(q: {
      text?: string | undefined;
      limit: number;
      offset: number;
    }): Promise<{ users: UserRow[]; total: number }> {
      const base = knex<UserRow>('users');
      if (q.text) {
        const like = `%${q.text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        base.where((w) =>
          w.whereRaw('lower(email) like ?', [like]).orWhereRaw('lower(name) like ?', [like]),
        );
      }
      const [{ count }] = (await base
        .clone()
        .count<{ count: string | number }[]>('* as count')) as [{ count: string | number }];
      const users = await base.orderBy('email').limit(q.limit).offset(q.offset).select('*');
      return { users, total: Number(count) };
    },
    async updateUser(id: string, patch: Partial<UserRow>): Promise<boolean> {
      return (await knex('users').where({ id }).update(patch)) > 0;
    },

    /** Records a sign-in's time, as a part of the statement that completes the sign-in. */
    lastLoginPart: (id: string, at: Date): StatementPart =>
      partOf(knex('users').where({ id }).update({ last_login_at: at })),

    async insertRole(row: RoleRow, scopes: RoleScopeRow[]): Promise<void> {
      await knex.transaction(async (trx) => {
        await trx('roles').insert(row);
        if (scopes.length)
          await trx('role_scopes').insert(scopes.map((s) => ({ role_id: row.id, ...s })));
      });
    },
    findRoleByName: (name: string): Promise<RoleRow | undefined> =>
      knex<RoleRow>('roles').where({ name }).first(),
    findRoleById: (id: string): Promise<RoleRow | undefined> =>
      knex<RoleRow>('roles').where({ id }).first(),
    async updateRole(
      id: string,
      patch: Partial<RoleRow>,
      scopes: RoleScopeRow[] | undefined,
    ): Promise<void> {
      await knex.transaction(async (trx) => {
        await trx('roles').where({ id }).update(patch);
        if (scopes) {
          await trx('role_scopes').where({ role_id: id }).delete();
          if (scopes.length)
            await trx('role_scopes').insert(scopes.map((s) => ({ role_id: id, ...s })));
        }
      });
    },
    async deleteRole(id: string): Promise<boolean> {
      return (await knex('roles').where({ id }).delete()) > 0;
    },
    /** Every role with its scopes (by API identifier) and number of members. */
    async listRoles(): Promise<
      (RoleRow & { scopes: { identifier: string; scope: string }[]; members: number })[]
    > {
      const [roles, scopes, members] = await Promise.all([
        knex<RoleRow>('roles').select('*').orderBy('name'),
        knex('role_scopes')
          .join('apis', 'apis.id', 'role_scopes.api_id')
          .select('role_scopes.role_id', 'apis.identifier', 'role_scopes.scope')
          .orderBy(['apis.identifier', 'role_scopes.scope']),
        knex('user_roles')
          .select('role_id')
          .count<{ role_id: string; count: string | number }[]>('* as count')
          .groupBy('role_id'),
      ]);
      return roles.map((r) => ({
        ...r,
        scopes: scopes
          .filter((s) => s.role_id === r.id)
          .map((s) => ({ identifier: s.identifier as string, scope: s.scope as string })),
        members: Number(members.find((m) => m.role_id === r.id)?.count ?? 0),
      }));
    },
    /** Returns false when the user already had the role. */
    async grantRole(userId: string, roleId: string, now: Date): Promise<boolean> {
      const inserted = await knex('user_roles')
        .insert({ user_id: userId, role_id: roleId, granted_at: now })
        .onConflict(['user_id', 'role_id'])
        .ignore()
        .returning('role_id');
      return inserted.length > 0;
    },
    async revokeRole(userId: string, roleId: string): Promise<boolean> {
      return (await knex('user_roles').where({ user_id: userId, role_id: roleId }).delete()) > 0;
    },
    async rolesOfUsers(userIds: string[]): Promise<{ user_id: string; name: string }[]> {
      if (userIds.length === 0) return [];
      return knex('user_roles')
        .join('roles', 'roles.id', 'user_roles.role_id')
        .whereIn('user_roles.user_id', userIds)
        .select('user_roles.user_id', 'roles.name')
        .orderBy('roles.name');
    },
    /** Every scope any role of the user grants, as (API identifier, scope) pairs. */
    async scopesOfUser(userId: string): Promise<{ identifier: string; scope: string }[]> {
      return knex('user_roles')
        .join('role_scopes', 'role_scopes.role_id', 'user_roles.role_id')
        .join('apis', 'apis.id', 'role_scopes.api_id')
        .where('user_roles.user_id', userId)
        .distinct('apis.identifier', 'role_scopes.scope');
    },
  };
  // A write to users or roles: a person read ahead for the request is read again.
  return options.readAhead
    ? forgettingOnWrite(store, ACCOUNT_READS, options.readAhead.forget)
    : store;
}

/** The store's functions that only read (any other may change a person read ahead). */
const ACCOUNT_READS = new Set([
  'findUserWithAccess',
  'findUserById',
  'findUserByEmail',
  'passwordSignInPart',
  'searchUsers',
  'findRoleByName',
  'findRoleById',
  'listRoles',
  'rolesOfUsers',
  'scopesOfUser',
]);

export type AccountStore = ReturnType<typeof createAccountStore>;
