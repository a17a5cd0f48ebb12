// SQL for account_lockouts and rate_limits. Each check is one atomic statement, so parallel
// requests on any number of instances cannot slip more attempts through than the limit allows.
// Passwords and second factors have a counter and a lock each. The statements that start a
// sign-in attempt are in attemptStatements.ts, the SQL both share in throttleSql.ts.
import type { Knex } from 'knex';
import { partOf, type StatementPart } from '../db/together.ts';
import { createAttemptStatements } from './attemptStatements.ts';
import { ATTEMPT_CTES, CONSUME_SQL } from './throttleSql.ts';

export type {
  FactorAttemptStart,
  LockoutClaim,
  PasswordAttempt,
} from './attemptStatements.ts';
export type { LockoutPolicy } from './throttleSql.ts';

export function createThrottleStore(knex: Knex) {
  const rows = async <T>(sql: string, bindings: Knex.RawBinding[]) =>
    ((await knex.raw(sql, bindings)) as { rows: T[] }).rows;

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

  return {
    ...createAttemptStatements(knex),

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
