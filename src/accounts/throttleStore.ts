// SQL for account_lockouts and rate_limits. Each check is one atomic statement, so parallel
// requests on any number of instances cannot slip more attempts through than the limit allows.
import type { Knex } from 'knex';

export interface LockoutPolicy {
  /** Consecutive failures that lock the account. */
  threshold: number;
  /** First lock length; each further failure while at the threshold doubles it. */
  baseSeconds: number;
  maxSeconds: number;
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

  return {
    /**
     * Counts one attempt on an account as a failure before its password is checked (a success
     * then clears it). Returns undefined when the account is locked: no attempt may be made now.
     */
    async claimAttempt(
      userId: string,
      now: Date,
      policy: LockoutPolicy,
    ): Promise<{ failures: number; lockedUntil: Date | null } | undefined> {
      const [row] = await rows<{ failures: number; locked_until: Date | null }>(
        `insert into account_lockouts (user_id, failures, locked_until, last_failure_at)
         values (?, 1, ${lockExpr('1')}, ?)
         on conflict (user_id) do update set
           failures = account_lockouts.failures + 1,
           locked_until = ${lockExpr('(account_lockouts.failures + 1)')},
           last_failure_at = excluded.last_failure_at
         where account_lockouts.locked_until is null or account_lockouts.locked_until <= excluded.last_failure_at
         returning failures, locked_until`,
        [userId, ...lockBindings(now, policy), now, ...lockBindings(now, policy)],
      );
      return row ? { failures: row.failures, lockedUntil: row.locked_until } : undefined;
    },

    /** A successful sign-in: the failure count starts again from zero. */
    async clearFailures(userId: string): Promise<void> {
      await knex('account_lockouts')
        .where({ user_id: userId })
        .update({ failures: 0, locked_until: null });
    },

    async lockState(
      userId: string,
    ): Promise<{ failures: number; lockedUntil: Date | null } | undefined> {
      const row = await knex('account_lockouts').where({ user_id: userId }).first();
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
      const [row] = await rows<{ points: number; window_ends_at: Date }>(
        `insert into rate_limits (key, points, window_ends_at) values (?, 1, ?)
         on conflict (key) do update set
           points = case when rate_limits.window_ends_at <= ? then 1 else rate_limits.points + 1 end,
           window_ends_at = case when rate_limits.window_ends_at <= ? then excluded.window_ends_at
                                 else rate_limits.window_ends_at end
         returning points, window_ends_at`,
        [key, windowEnd, now, now],
      );
      return { points: row!.points, windowEndsAt: row!.window_ends_at };
    },

    /** Gives back a point (a sign-in that succeeded does not count against its address). */
    async refund(key: string): Promise<void> {
      await knex('rate_limits').where({ key }).where('points', '>', 0).decrement('points', 1);
    },

    /** Deletes counters whose window has ended. */
    async sweep(now: Date): Promise<number> {
      return knex('rate_limits').where('window_ends_at', '<', now).delete();
    },
  };
}

export type ThrottleStore = ReturnType<typeof createThrottleStore>;
