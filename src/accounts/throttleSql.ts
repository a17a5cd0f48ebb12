// SQL text of the throttle store (rate_limits, account_lockouts), shared by its plain statements
// (throttleStore.ts) and the statements that start an attempt (attemptStatements.ts).
import type { Knex } from 'knex';

export interface LockoutPolicy {
  /** Consecutive failures that lock the account. */
  threshold: number;
  /** First lock length; each further failure while at the threshold doubles it. */
  baseSeconds: number;
  maxSeconds: number;
}

/** Takes one point from a fixed-window counter (bindings: key, window end, now, now). */
export const CONSUME_SQL = `insert into rate_limits (key, points, window_ends_at) values (?, 1, ?)
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
export const ATTEMPT_CTES = `pending as (${CONSUME_SQL}),
  address as (
    select pending.points as pending, coalesce(failures.points, 0) as failures,
           failures.window_ends_at as failures_end
    from pending left join rate_limits failures
      on failures.key = ? and failures.window_ends_at > ?)`;

/** SQL for the lock that `failures` consecutive failures earn (null below the threshold). */
export const lockExpr = (failures: string) =>
  `case when ${failures} >= cast(? as integer)
     then cast(? as timestamptz) + make_interval(secs => least(cast(? as float8),
          cast(? as float8) * power(2, ${failures} - cast(? as integer))))
     else null end`;
/** The bindings of one `lockExpr`. */
export const lockBindings = (now: Date, p: LockoutPolicy): Knex.RawBinding[] => [
  p.threshold,
  now,
  p.maxSeconds,
  p.baseSeconds,
  p.threshold,
];

/** The two lockout counters of an account, each with its lock (column names, never input). */
export const PASSWORDS = { counter: 'failures', lock: 'locked_until' } as const;
export const SECOND_FACTORS = {
  counter: 'second_factor_failures',
  lock: 'second_factor_locked_until',
} as const;

/**
 * One statement that counts an attempt as a failure on one of the two counters and sets that
 * counter's lock when it reaches the threshold; no row comes back when the counter's lock is
 * still on. `source` selects the row to insert: (user id, 1, `lockExpr('1')`, now). Bindings:
 * those of `source`, then `lockBindings`.
 */
export const claimSql = (
  { counter, lock }: typeof PASSWORDS | typeof SECOND_FACTORS,
  source: string,
) =>
  `insert into account_lockouts (user_id, ${counter}, ${lock}, last_failure_at)
   ${source}
   on conflict (user_id) do update set
     ${counter} = account_lockouts.${counter} + 1,
     ${lock} = ${lockExpr(`(account_lockouts.${counter} + 1)`)},
     last_failure_at = excluded.last_failure_at
   where account_lockouts.${lock} is null or account_lockouts.${lock} <= excluded.last_failure_at
   returning ${counter} as failures, ${lock} as locked_until`;
