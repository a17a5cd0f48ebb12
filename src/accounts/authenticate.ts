// Sign-in with email and password. Throttled per account (consecutive failures lock it for a
// growing time) and per source address (credential stuffing), both in PostgreSQL. Every outcome
// but success looks the same to the caller's user and costs one Argon2 verification, so neither
// the message nor the response time tells whether an account exists or is locked.
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import { normalizePassword } from './passwordPolicy.ts';
import type { PasswordHasher } from './passwords.ts';
import { createAccountStore, type UserRow } from './store.ts';
import { createThrottleStore, type LockoutPolicy } from './throttleStore.ts';

export interface ThrottlePolicy {
  lockout: LockoutPolicy;
  /** Failed sign-ins allowed per source address per window, across all accounts. */
  ipFailureLimit: number;
  ipWindowSeconds: number;
}

/** Why a sign-in failed: for the audit log only, never shown to the person signing in. */
export type SignInFailure =
  | 'unknown_account'
  | 'wrong_password'
  | 'account_locked'
  | 'account_disabled'
  | 'no_password';

export type SignInResult =
  | { ok: true; user: UserRow }
  | { ok: false; reason: SignInFailure; userId?: string; lockedUntil?: Date | null }
  | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number };

export interface AuthenticateOptions {
  knex: Knex;
  clock: Clock;
  hasher: PasswordHasher;
  policy: ThrottlePolicy;
  /** Called after a success, off the response path (e.g. to upgrade an old hash). */
  background?: (task: Promise<unknown>) => void;
}

export function createAuthenticator(options: AuthenticateOptions) {
  const { knex, clock, hasher, policy } = options;
  const store = createAccountStore(knex);
  const throttle = createThrottleStore(knex);
  const ipKey = (ip: string) => `signin-ip:${ip}`;

  /** Finishes a failed attempt exactly like a wrong password would, timing included. */
  async function fail(
    password: string,
    result: Extract<SignInResult, { ok: false; reason: SignInFailure }>,
  ): Promise<SignInResult> {
    await hasher.verifyDummy(password);
    return result;
  }

  return {
    /** Checks a password; for the second factor the caller continues after `ok: true`. */
    async withPassword(input: {
      email: string;
      password: string;
      ip: string;
    }): Promise<SignInResult> {
      const now = new Date(clock.now());
      const password = normalizePassword(input.password);

      const address = await throttle.consume(ipKey(input.ip), now, policy.ipWindowSeconds);
      if (address.points > policy.ipFailureLimit) {
        const retryAfterSeconds = Math.max(
          1,
          Math.ceil((address.windowEndsAt.getTime() - now.getTime()) / 1000),
        );
        return { ok: false, reason: 'rate_limited', retryAfterSeconds };
      }

      const user = await store.findUserByEmail(input.email.trim());
      if (!user) return fail(password, { ok: false, reason: 'unknown_account' });
      if (user.status !== 'active') {
        const reason = user.status === 'disabled' ? 'account_disabled' : 'account_locked';
        return fail(password, { ok: false, reason, userId: user.id });
      }
      if (!user.password_hash)
        return fail(password, { ok: false, reason: 'no_password', userId: user.id });

      // The attempt counts as a failure until the password is proven right.
      const attempt = await throttle.claimAttempt(user.id, now, policy.lockout);
      if (!attempt) return fail(password, { ok: false, reason: 'account_locked', userId: user.id });

      if (!(await hasher.verify(user.password_hash, password))) {
        return {
          ok: false,
          reason: 'wrong_password',
          userId: user.id,
          lockedUntil: attempt.lockedUntil,
        };
      }

      await Promise.all([
        throttle.clearFailures(user.id),
        throttle.refund(ipKey(input.ip)),
        store.updateUser(user.id, { last_login_at: now }),
      ]);
      if (hasher.needsRehash(user.password_hash)) {
        const upgrade = hasher
          .hash(password)
          .then((password_hash) => store.updateUser(user.id, { password_hash }));
        if (options.background) options.background(upgrade);
        else await upgrade;
      }
      return { ok: true, user: { ...user, last_login_at: now } };
    },

    /**
     * Counts a second-factor attempt against the account lockout (wrong codes lock the account
     * like wrong passwords). False when the account is locked now: do not check the code.
     */
    async claimAttempt(userId: string): Promise<boolean> {
      return (
        (await throttle.claimAttempt(userId, new Date(clock.now()), policy.lockout)) !== undefined
      );
    },

    /** A factor was right: the failure count starts again from zero. */
    succeeded: (userId: string) => throttle.clearFailures(userId),

    /** Deletes rate-limit windows that have ended. */
    sweep: () => throttle.sweep(new Date(clock.now())),
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
