// SQL for account_lockouts and rate_limits. Each check is one atomic statement, so parallel
// requests on any number of instances cannot slip more attempts through than the limit allows.
// Passwords and second factors have a counter and a lock each.
import type { Knex } from 'knex';
import { partOf, type StatementPart } from '../db/together.ts';

export interface LockoutPolicy {
  /** Consecutive failures that lock the account. */
  threshold: number;
  /** First lock length; each further failure while at the threshold doubles it. */
  baseSeconds: number;
  maxSeconds: number;
}

/** Takes one point from a fixed-window counter (bindings: key, window end, now, now). */
const CONSUME_SQL = `insert into rate_limits (key, points, window_ends_at) values (?, 1, ?)
  on conflict (key) do update set
    points = case when rate_limits.window_ends_at <= ? then 1 else rate_limits.points + 1 end,
    window_ends_at = case when rate_limits.window_ends_at <= ? then excluded.window_ends_at
                          else rate_limits.window_ends_at end
  returning points, window_ends_at`;

/**
 * The start of an attempt, as CTEs: `pending` takes a point from the address's pending counter,
 * `address` reads it with the address's failure counter, unspent (failures 0 and failures_end
 * null without a live window). Bindings: pending key, window end, now, now, failure key, now.
 */
const ATTEMPT_CTES = `pending as (${CONSUME_SQL}),
  address as (
    select pending.points as pending, coalesce(failures.points, 0) as failures,
           failures.window_ends_at as failures_end
    from pending left join rate_limits failures
      on failures.key = ? and failures.window_ends_at > ?)`;

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

/** The outcome of `beginPasswordAttempt`. */
export interface PasswordAttempt<Account> {
  /** The address's counters once this attempt's pending point is taken. */
  pending: number;
  failures: number;
  failuresEndAt: Date | null;
  /** The address refused the attempt: its point is to be refunded; nothing of the account came. */
  refused: boolean;
  /** The account's row, without `takes_password` (undefined: none, or the address refused). */
  account: Account | undefined;
  /**
   * The password lockout claim: taken (with the lock a wrong password has now set), refused
   * because the account is locked, or undefined when none was made (no account, refused address,
   * or an account that takes no password attempt).
   */
  claim: { failures: number; lockedUntil: Date | null } | 'locked' | undefined;
}

export function createThrottleStore(knex: Knex) {
  const rows = async <T>(sql: string, bindings: Knex.RawBinding[]) =>
    ((await knex.raw(sql, bindings)) as { rows: T[] }).rows;

  /** SQL for the lock that `failures` consecutive failures earn (null below the threshold). */
  const lockExpr = (failures: string) =>
    `case when ${failures} >= cast(? as integer)
       then cast(? as timestamptz) + make_interval(secs => least(cast(? as float8),
            cast(? as float8) * power(2, ${failures} - cast(? as integer))))
       else null end`;
  const lockBindings = (now: Date, p: LockoutPolicy) => [
    p.threshold,
    now,
    p.maxSeconds,
    p.baseSeconds,
    p.threshold,
  ];

  /**
   * One statement that counts an attempt as a failure on one of the two counters (passwords, or
   * second factors) and sets that counter's lock when it reaches the threshold; no row comes back
   * when the counter's lock is still on. Column names are constants, never input. `source` gives
   * the row to insert (user id, 1, the lock of one failure, now): by default bound values.
   */
  const claimSql = (counter: string, lock: string, source = `values (?, 1, ${lockExpr('1')}, ?)`) =>
    `insert into account_lockouts (user_id, ${counter}, ${lock}, last_failure_at)
     ${source}
     on conflict (user_id) do update set
       ${counter} = account_lockouts.${counter} + 1,
       ${lock} = ${lockExpr(`(account_lockouts.${counter} + 1)`)},
       last_failure_at = excluded.last_failure_at
     where account_lockouts.${lock} is null or account_lockouts.${lock} <= excluded.last_failure_at
     returning ${counter} as failures, ${lock} as locked_until`;

  async function claim(
    sql: string,
    userId: string,
    now: Date,
    policy: LockoutPolicy,
  ): Promise<{ failures: number; lockedUntil: Date | null } | undefined> {
    const [row] = await rows<{ failures: number; locked_until: Date | null }>(sql, [
      userId,
      ...lockBindings(now, policy),
      now,
      ...lockBindings(now, policy),
    ]);
    return row ? { failures: row.failures, lockedUntil: row.locked_until } : undefined;
  }

  /** Gives back points of a fixed-window counter. */
  const refundPart = (key: string, points = 1): StatementPart => ({
    sql: 'update rate_limits set points = greatest(points - ?, 0) where key = ? and points > 0',
    bindings: [points, key],
  });
  /** Takes one point from a fixed-window counter (returns the points and window end). */
  const consumePart = (key: string, now: Date, windowSeconds: number): StatementPart => ({
    sql: CONSUME_SQL,
    bindings: [key, new Date(now.getTime() + windowSeconds * 1000), now, now],
  });
  /** The password count of an account starts again from zero. */
  const clearPasswordFailuresPart = (userId: string): StatementPart =>
    partOf(
      knex('account_lockouts')
        .where({ user_id: userId })
        .update({ failures: 0, locked_until: null }),
    );
  /** Both counts and both locks of an account go. */
  const clearFailuresPart = (userId: string): StatementPart =>
    partOf(
      knex('account_lockouts').where({ user_id: userId }).update({
        failures: 0,
        locked_until: null,
        second_factor_failures: 0,
        second_factor_locked_until: null,
      }),
    );

  const factorClaim = claimSql('second_factor_failures', 'second_factor_locked_until');

  return {
    /**
     * Counts a second-factor attempt (a code, a recovery code, a security key) as a failure
     * before it is checked, on its own counter, which a right password does not clear. Returns
     * undefined while second factors are locked. (A password attempt's claim is made by
     * `beginPasswordAttempt`, in the statement that finds its account.)
     */
    claimFactorAttempt: (userId: string, now: Date, policy: LockoutPolicy) =>
      claim(factorClaim, userId, now, policy),

    /** The password was right: the password count starts again from zero. */
    async clearPasswordFailures(userId: string): Promise<void> {
      const part = clearPasswordFailuresPart(userId);
      await knex.raw(part.sql, [...part.bindings]);
    },
    /** `clearPasswordFailures` as a part of a statement with the request's other writes. */
    clearPasswordFailuresPart,

    /**
     * A second factor was right: its own attempt no longer counts as a failure, and a lock it
     * set is lifted (only someone holding the factor gets here). Earlier wrong attempts still
     * count until a sign-in completes.
     */
    async withdrawFactorAttempt(userId: string): Promise<void> {
      await rows(
        `update account_lockouts set
           second_factor_failures = greatest(second_factor_failures - 1, 0),
           second_factor_locked_until = null
         where user_id = ?`,
        [userId],
      );
    },

    /** A completed sign-in with a second factor, or an administrator's unlock: both counts go. */
    async clearFailures(userId: string): Promise<void> {
      const part = clearFailuresPart(userId);
      await knex.raw(part.sql, [...part.bindings]);
    },
    /** `clearFailures` as a part of a statement that carries other writes of its request. */
    clearFailuresPart,

    /** Failures of both kinds together, and the later of the two locks. */
    async lockState(
      userId: string,
    ): Promise<{ failures: number; lockedUntil: Date | null } | undefined> {
      const [row] = await rows<{ failures: number; locked_until: Date | null }>(
        `select failures + second_factor_failures as failures,
                greatest(locked_until, second_factor_locked_until) as locked_until
         from account_lockouts where user_id = ?`,
        [userId],
      );
      return row ? { failures: row.failures, lockedUntil: row.locked_until } : undefined;
    },

    /**
     * Takes one point from a fixed-window counter; returns the points used in the current
     * window (the caller compares with its limit) and when the window ends.
     */
    async consume(
      key: string,
      now: Date,
      windowSeconds: number,
    ): Promise<{ points: number; windowEndsAt: Date }> {
      const windowEnd = new Date(now.getTime() + windowSeconds * 1000);
      const [row] = await rows<{ points: number; window_ends_at: Date }>(CONSUME_SQL, [
        key,
        windowEnd,
        now,
        now,
      ]);
      return { points: row!.points, windowEndsAt: row!.window_ends_at };
    },

    /**
     * Starts an attempt: takes a point from the `pending` counter (attempts not yet decided) and
     * reads the `failures` counter without spending it, in one statement. Window ends are null
     * when a counter has no live window.
     */
    async beginAttempt(
      pendingKey: string,
      failureKey: string,
      now: Date,
      windowSeconds: number,
    ): Promise<{ pending: number; failures: number; failuresEndAt: Date | null }> {
      const windowEnd = new Date(now.getTime() + windowSeconds * 1000);
      const [row] = await rows<{ pending: number; failures: number; failures_end: Date | null }>(
        `with ${ATTEMPT_CTES} select * from address`,
        [pendingKey, windowEnd, now, now, failureKey, now],
      );
      return { pending: row!.pending, failures: row!.failures, failuresEndAt: row!.failures_end };
    },

    /**
     * Starts a password attempt in one statement (one round trip): `beginAttempt`'s pending point
     * and failure count of the address, the lookup of the account (`input.account`, the owning
     * store's select), and `claimAttempt` on that account, which is made only when the address
     * does not refuse the attempt and the account takes password attempts (both decided in SQL).
     * The CTEs depend on each other, so they are chained here rather than joined as independent
     * parts (src/db/together.ts): `pending` -> `address` -> `verdict` (refused or not), `account`,
     * then `claimed` (an insert fed by a select of `account` and `verdict`, so no row is claimed
     * unless both agree); the final select reads one row of each (`left join`s, as `account` and
     * `claimed` may be empty) and the account's columns only when the address did not refuse.
     * Locks are taken in this order: the address's pending counter, then the account's lockout
     * row; the statement that settles a right password takes them in the same order (PostgreSQL
     * runs unread data-modifying CTEs last part first), so the two do not deadlock.
     */
    async beginPasswordAttempt<Account extends { id: string }>(
      input: PasswordAttemptInput,
    ): Promise<PasswordAttempt<Account>> {
      const { now, lockout } = input;
      const windowEnd = new Date(now.getTime() + input.windowSeconds * 1000);
      const [row] = await rows<
        Record<string, unknown> & {
          attempt_pending: number;
          attempt_failures: number;
          attempt_failures_end: Date | null;
          attempt_refused: boolean;
          attempt_claim_failures: number | null;
          attempt_locked_until: Date | null;
          takes_password?: boolean | null;
        }
      >(
        `with ${ATTEMPT_CTES},
           verdict as (
             select address.*, (address.failures >= cast(? as integer)
                                or address.pending > cast(? as integer)) as refused
             from address),
           account as (${input.account.sql}),
           claimed as (${claimSql(
             'failures',
             'locked_until',
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
      const {
        attempt_pending: pending,
        attempt_failures: failures,
        attempt_failures_end: failuresEndAt,
        attempt_refused: refused,
        attempt_claim_failures: claimFailures,
        attempt_locked_until: lockedUntil,
        takes_password: takesPassword,
        ...account
      } = row!;
      const found = account.id === null || account.id === undefined ? undefined : account;
      return {
        pending,
        failures,
        failuresEndAt,
        refused,
        account: found as Account | undefined,
        claim:
          claimFailures !== null
            ? { failures: claimFailures, lockedUntil }
            : takesPassword === true && !refused
              ? 'locked'
              : undefined,
      };
    },

    /**
     * Settles a pending attempt as a failure: its pending point goes, a failure point is taken
     * (one statement). Returns the failure count of the window.
     */
    async pendingToFailure(
      pendingKey: string,
      failureKey: string,
      now: Date,
      windowSeconds: number,
    ): Promise<number> {
      const windowEnd = new Date(now.getTime() + windowSeconds * 1000);
      const [row] = await rows<{ points: number }>(
        `with released as (
           update rate_limits set points = greatest(points - 1, 0) where key = ? and points > 0
         )
         ${CONSUME_SQL}`,
        [pendingKey, failureKey, windowEnd, now, now],
      );
      return row!.points;
    },

    /** Gives back points (the steps of a sign-in that completed do not count against its address). */
    async refund(key: string, points = 1): Promise<void> {
      const part = refundPart(key, points);
      await rows(part.sql, [...part.bindings]);
    },
    /** `refund` as a part of a statement that carries other writes of its request. */
    refundPart,
    /** `consume` as a part of a statement that carries other writes of its request. */
    consumePart,

    /** Deletes counters whose window has ended. */
    async sweep(now: Date): Promise<number> {
      return knex('rate_limits').where('window_ends_at', '<', now).delete();
    },
  };
}

export type ThrottleStore = ReturnType<typeof createThrottleStore>;
