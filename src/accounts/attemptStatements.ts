// The statements that start a sign-in attempt, part of the throttle store: each takes the
// address's point and claims the account's lockout in one round trip, with a lookup of another
// store (the account, the authenticator) riding along as a CTE that store wrote.
import type { Knex } from 'knex';
import type { StatementPart } from '../db/together.ts';
import {
  ATTEMPT_CTES,
  CONSUME_SQL,
  claimSql,
  type LockoutPolicy,
  lockBindings,
  lockExpr,
  PASSWORDS,
  SECOND_FACTORS,
} from './throttleSql.ts';

/** A lockout claim: taken (with the lock a wrong attempt has now set), or refused (locked). */
export type LockoutClaim = { failures: number; lockedUntil: Date | null } | 'locked';

/** What `beginPasswordAttempt` needs to know of an attempt's address and account. */
export interface PasswordAttemptInput {
  pendingKey: string;
  failureKey: string;
  now: Date;
  windowSeconds: number;
  /** The address is refused at this many failures in its window... */
  failureLimit: number;
  /** ...or beyond this many attempts pending (this one included). */
  pendingLimit: number;
  lockout: LockoutPolicy;
  /**
   * The account the attempt is on, from the store that owns it: a select of at most one row,
   * with the account's user id as `id` and a boolean `takes_password` (whether a password attempt
   * on it counts against its lockout); no column of it may start with `attempt_`.
   */
  account: StatementPart;
}

export interface PasswordAttempt<Account> {
  /** The address's counters once this attempt's pending point is taken. */
  pending: number;
  failures: number;
  failuresEndAt: Date | null;
  /** The address refused the attempt: its point is to be refunded; nothing of the account came. */
  refused: boolean;
  /** The account's row, without `takes_password` (undefined: none, or the address refused). */
  account: Account | undefined;
  /** Undefined when no claim was made: no account, a refused address, or no password to try. */
  claim: LockoutClaim | undefined;
}

export interface FactorAttemptInput {
  addressKey: string;
  userId: string;
  now: Date;
  windowSeconds: number;
  /** Points the address may spend per window; beyond them the attempt is refused. */
  addressLimit: number;
  lockout: LockoutPolicy;
  /**
   * A lookup that only a claimed attempt needs (e.g. the factor to check), from the store that
   * owns it: a select of at most one row with a non-null `id`; no column may start `attempt_`.
   */
  read?: StatementPart | undefined;
}

export interface FactorAttemptStart<Read> {
  /** The address's points spent in its window, this attempt's included, and its end. */
  addressPoints: number;
  addressEndsAt: Date;
  /** Over the address's limit: no claim was made, nothing was read. */
  refused: boolean;
  claim: LockoutClaim | undefined;
  /** The row of `read`, read only when the claim was taken. */
  read: Read | undefined;
}

/** The columns this module selects (`attempt_*`, prefix dropped) apart from the part's row. */
function split(row: Record<string, unknown>) {
  const own: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (key.startsWith('attempt_')) own[key.slice('attempt_'.length)] = value;
    else rest[key] = value;
  }
  return { own, found: rest.id === null || rest.id === undefined ? undefined : rest };
}

const claimOf = (own: Record<string, unknown>): LockoutClaim =>
  own.claim_failures === null
    ? 'locked'
    : { failures: own.claim_failures as number, lockedUntil: own.locked_until as Date | null };

export function createAttemptStatements(knex: Knex) {
  const row = async (sql: string, bindings: readonly Knex.RawBinding[]) =>
    ((await knex.raw(sql, [...bindings])) as { rows: Record<string, unknown>[] }).rows[0]!;

  return {
    /**
     * Starts a password attempt in one statement: the address's pending point and failure count
     * (as `beginAttempt`), the lookup of the account (`input.account`) and the password lockout
     * claim on it, made only when the address does not refuse the attempt and the account takes
     * password attempts (both decided in SQL). The CTEs depend on each other, so they are chained
     * here, not joined as independent parts (src/db/together.ts): `pending` -> `address` ->
     * `verdict` (refused or not), `account`, then `claimed` (an insert fed by a select of both,
     * so no row is claimed unless both agree); the final select reads one row of each (`left
     * join`s: `account` and `claimed` may be empty), the account only if the address did not refuse.
     * Locks are taken in this order: the address's pending counter, then the account's lockout
     * row; the statement that settles a right password takes them in the same order (PostgreSQL
     * runs unread data-modifying CTEs last part first), so the two do not deadlock.
     */
    async beginPasswordAttempt<Account extends { id: string }>(
      input: PasswordAttemptInput,
    ): Promise<PasswordAttempt<Account>> {
      const { now, lockout } = input;
      const windowEnd = new Date(now.getTime() + input.windowSeconds * 1000);
      const result = await row(
        `with ${ATTEMPT_CTES},
           verdict as (
             select address.*, (address.failures >= cast(? as integer)
                                or address.pending > cast(? as integer)) as refused
             from address),
           account as (${input.account.sql}),
           claimed as (${claimSql(
             PASSWORDS,
             `select account.id, 1, ${lockExpr('1')}, cast(? as timestamptz)
              from account, verdict where not verdict.refused and account.takes_password`,
           )})
         select verdict.pending as attempt_pending, verdict.failures as attempt_failures,
                verdict.failures_end as attempt_failures_end, verdict.refused as attempt_refused,
                claimed.failures as attempt_claim_failures,
                claimed.locked_until as attempt_locked_until, account.*
         from verdict left join account on not verdict.refused left join claimed on true`,
        [
          input.pendingKey,
          windowEnd,
          now,
          now,
          input.failureKey,
          now,
          input.failureLimit,
          input.pendingLimit,
          ...input.account.bindings,
          ...lockBindings(now, lockout),
          now,
          ...lockBindings(now, lockout),
        ],
      );
      const { own, found } = split(result);
      const { takes_password: takesPassword, ...account } = found ?? {};
      return {
        pending: own.pending as number,
        failures: own.failures as number,
        failuresEndAt: own.failures_end as Date | null,
        refused: own.refused as boolean,
        account: found ? (account as Account) : undefined,
        claim: takesPassword === true ? claimOf(own) : undefined,
      };
    },

    /**
     * Starts a second-factor attempt in one statement: a point of the address (spent even when
     * refused, as a failure would be), the second-factor lockout claim on the account, made only
     * within the address's limit (decided in SQL), and `read`, joined only when the claim was
     * taken, so a refused or locked attempt reads nothing. Locks: the address's counter, then
     * the account's lockout row, the order of the statement that completes a sign-in.
     */
    async beginFactorAttempt<Read extends { id: string }>(
      input: FactorAttemptInput,
    ): Promise<FactorAttemptStart<Read>> {
      const { now, lockout, read } = input;
      const windowEnd = new Date(now.getTime() + input.windowSeconds * 1000);
      const result = await row(
        `with spent as (${CONSUME_SQL}),
           claimed as (${claimSql(
             SECOND_FACTORS,
             `select cast(? as uuid), 1, ${lockExpr('1')}, cast(? as timestamptz)
              from spent where spent.points <= cast(? as integer)`,
           )})
           ${read ? `, read as (${read.sql})` : ''}
         select spent.points as attempt_points, spent.window_ends_at as attempt_ends_at,
                claimed.failures as attempt_claim_failures,
                claimed.locked_until as attempt_locked_until ${read ? ', read.*' : ''}
         from spent left join claimed on true
           ${read ? 'left join read on claimed.failures is not null' : ''}`,
        [
          input.addressKey,
          windowEnd,
          now,
          now,
          input.userId,
          ...lockBindings(now, lockout),
          now,
          input.addressLimit,
          ...lockBindings(now, lockout),
          ...(read?.bindings ?? []),
        ],
      );
      const { own, found } = split(result);
      const refused = (own.points as number) > input.addressLimit;
      return {
        addressPoints: own.points as number,
        addressEndsAt: own.ends_at as Date,
        refused,
        claim: refused ? undefined : claimOf(own),
        read: found as Read | undefined,
      };
    },
  };
}
