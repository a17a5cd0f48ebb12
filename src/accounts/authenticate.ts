// Sign-in with email and password, and the throttling of every step of a sign-in: per account
// (consecutive wrong passwords, and separately wrong second factors, lock it for a growing time)
// and per source address (credential stuffing, code guessing), both in PostgreSQL. A password
// attempt holds a pending point of its address until its password is checked, apart from the
// address's failures, so many people signing in at once behind one address are not refused.
// Every password outcome but success looks the same to the caller's user and costs one Argon2
// verification, so neither the message nor the response time tells whether an account exists or
// is locked.
import type { Clock } from '../clock.ts';
import type { StatementPart } from '../db/together.ts';
import { normalizePassword } from './passwordPolicy.ts';
import type { PasswordHasher } from './passwords.ts';
import type { AccountStore, UserRow } from './store.ts';
import type { LockoutPolicy, ThrottleStore } from './throttleStore.ts';

export interface ThrottlePolicy {
  lockout: LockoutPolicy;
  /** Failed sign-ins allowed per source address per window, across all accounts. */
  ipFailureLimit: number;
  /**
   * Password attempts from one address whose password is still being checked, at once. Wrong
   * passwords checked per address per window: at most ipFailureLimit + ipPendingLimit - 1.
   */
  ipPendingLimit: number;
  ipWindowSeconds: number;
}

/** Why a sign-in failed: for the audit log only, never shown to the person signing in. */
export type SignInFailure =
  | 'unknown_account'
  | 'wrong_password'
  | 'account_locked'
  | 'account_disabled'
  | 'no_password';

/**
 * Whether a second-factor attempt may be checked now (it then already counts as a failure), with
 * the row of the lookup that came in its statement.
 */
export type FactorAttempt<Read = never> =
  | { ok: true; lockedUntil: Date | null; read?: Read | undefined }
  | { ok: false; reason: 'account_locked' }
  | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number };

export type SignInResult =
  | { ok: true; user: UserRow }
  | { ok: false; reason: SignInFailure; userId?: string; lockedUntil?: Date | null }
  | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number; pending?: boolean };

/**
 * A password checked, whose success is not yet written: `clearFailures` (the password count
 * starting again from zero) goes in the statement of the page's next writes.
 */
export type CheckedPassword =
  | { ok: true; user: UserRow; clearFailures: StatementPart }
  | Extract<SignInResult, { ok: false }>;

export interface AuthenticateOptions {
  store: AccountStore;
  throttle: ThrottleStore;
  clock: Clock;
  hasher: PasswordHasher;
  policy: ThrottlePolicy;
  /** Called after a success, off the response path (e.g. to upgrade an old hash). */
  background?: (task: Promise<unknown>) => void;
}

export function createAuthenticator(options: AuthenticateOptions) {
  const { store, throttle, clock, hasher, policy } = options;
  const ipKey = (ip: string) => `signin-ip:${ip}`;
  const pendingKey = (ip: string) => `signin-pending:${ip}`;
  const secondsUntil = (end: Date, now: Date) =>
    Math.max(1, Math.ceil((end.getTime() - now.getTime()) / 1000));

  /**
   * Starts a password attempt in one statement: a pending point of the address, the account's
   * lookup and, unless the address refuses or the account takes no password, the account's
   * lockout claim. A refused attempt's pending point is given back (then the seconds to wait).
   */
  async function beginPasswordAttempt(ip: string, email: string, now: Date) {
    const attempt = await throttle.beginPasswordAttempt<UserRow>({
      pendingKey: pendingKey(ip),
      failureKey: ipKey(ip),
      now,
      windowSeconds: policy.ipWindowSeconds,
      failureLimit: policy.ipFailureLimit,
      pendingLimit: policy.ipPendingLimit,
      lockout: policy.lockout,
      account: store.passwordSignInPart(email),
    });
    if (!attempt.refused) return { ...attempt, refused: undefined };
    await throttle.refund(pendingKey(ip));
    const refused =
      attempt.failures >= policy.ipFailureLimit
        ? { retryAfterSeconds: secondsUntil(attempt.failuresEndAt ?? now, now), pending: false }
        : { retryAfterSeconds: 1, pending: true };
    return { ...attempt, refused };
  }

  /**
   * Finishes a failed attempt exactly like a wrong password would, timing included: its pending
   * point becomes a failure of its address.
   */
  async function fail(
    ip: string,
    now: Date,
    password: string | undefined,
    result: Extract<SignInResult, { ok: false; reason: SignInFailure }>,
  ): Promise<Extract<SignInResult, { ok: false }>> {
    if (password !== undefined) await hasher.verifyDummy(password);
    await throttle.pendingToFailure(pendingKey(ip), ipKey(ip), now, policy.ipWindowSeconds);
    return result;
  }

  /** The password check of `withPassword`; the success's write is returned, not made. */
  async function checkPassword(input: {
    email: string;
    password: string;
    ip: string;
  }): Promise<CheckedPassword> {
    const now = new Date(clock.now());
    const password = normalizePassword(input.password);

    // Every attempt holds a pending point of its address until its password is checked: a
    // wrong one turns it into a failure; a right one is settled by `passwordCompletesPart` or
    // `passwordContinuesParts`. The same statement finds the account and, when it may be tried,
    // counts the attempt as a failure of the account until the password is proven right.
    const { ip } = input;
    const attempt = await beginPasswordAttempt(ip, input.email.trim(), now);
    if (attempt.refused) return { ok: false, reason: 'rate_limited', ...attempt.refused };

    const user = attempt.account;
    if (!user) return fail(ip, now, password, { ok: false, reason: 'unknown_account' });
    if (user.status !== 'active') {
      const reason = user.status === 'disabled' ? 'account_disabled' : 'account_locked';
      return fail(ip, now, password, { ok: false, reason, userId: user.id });
    }
    if (!user.password_hash)
      return fail(ip, now, password, { ok: false, reason: 'no_password', userId: user.id });

    // No claim for an active account with a password means its lock is still on.
    const claim = attempt.claim;
    if (claim === undefined || claim === 'locked')
      return fail(ip, now, password, { ok: false, reason: 'account_locked', userId: user.id });

    if (!(await hasher.verify(user.password_hash, password))) {
      return fail(ip, now, undefined, {
        ok: false,
        reason: 'wrong_password',
        userId: user.id,
        lockedUntil: claim.lockedUntil,
      });
    }

    if (hasher.needsRehash(user.password_hash)) {
      const upgrade = hasher
        .hash(password)
        .then((password_hash) => store.updateUser(user.id, { password_hash }));
      if (options.background) options.background(upgrade);
      else await upgrade;
    }
    // Only the password count is cleared: wrong second factors keep counting until a sign-in
    // completes with one.
    return { ok: true, user, clearFailures: throttle.clearPasswordFailuresPart(user.id) };
  }

  return {
    /** Checks a password; for the second factor the caller continues after `ok: true`. */
    async withPassword(input: {
      email: string;
      password: string;
      ip: string;
    }): Promise<SignInResult> {
      const result = await checkPassword(input);
      if (!result.ok) return result;
      await throttle.clearPasswordFailures(result.user.id);
      return { ok: true, user: result.user };
    },

    /** `withPassword`, leaving the success's write to the caller's next statement. */
    checkPassword,

    /**
     * A right password's pending point is settled, as parts of the page's next statement (src/db/
     * together.ts). When the sign-in continues (to a second factor), it becomes a point of the
     * address that `completedParts` gives back, so abandoned sign-ins count as failures; these
     * parts go in the statement that saves the login's progress.
     */
    passwordContinuesParts(ip: string): StatementPart[] {
      const now = new Date(clock.now());
      return [
        throttle.refundPart(pendingKey(ip)),
        throttle.consumePart(ipKey(ip), now, policy.ipWindowSeconds),
      ];
    },

    /** When the sign-in completes now, the pending point is given back in its statement. */
    passwordCompletesPart: (ip: string): StatementPart => throttle.refundPart(pendingKey(ip)),

    /**
     * Counts a second-factor attempt (TOTP, recovery code, security key) against the source
     * address and the account's second-factor lockout, before it is checked: it is a failure
     * unless `factorSucceeded` follows. Not ok: do not check it. One statement, which also reads
     * `read` (the owning store's lookup of what the attempt checks) when the attempt may be made.
     */
    async claimFactorAttempt<Read extends { id: string } = never>(
      userId: string,
      ip: string,
      read?: StatementPart,
    ): Promise<FactorAttempt<Read>> {
      const now = new Date(clock.now());
      const attempt = await throttle.beginFactorAttempt<Read>({
        addressKey: ipKey(ip),
        userId,
        now,
        windowSeconds: policy.ipWindowSeconds,
        addressLimit: policy.ipFailureLimit,
        lockout: policy.lockout,
        read,
      });
      if (attempt.refused) {
        const retryAfterSeconds = secondsUntil(attempt.addressEndsAt, now);
        return { ok: false, reason: 'rate_limited', retryAfterSeconds };
      }
      const claim = attempt.claim;
      return claim === undefined || claim === 'locked'
        ? { ok: false, reason: 'account_locked' }
        : { ok: true, lockedUntil: claim.lockedUntil, read: attempt.read };
    },

    /** The factor was right: its attempt is not a failure (earlier wrong ones still count). */
    factorSucceeded: (userId: string) => throttle.withdrawFactorAttempt(userId),

    /**
     * A sign-in completed (the writes, as parts of the statement that completes it, with its
     * audit event: src/db/together.ts): the points its successful steps took from the address come back, the
     * last sign-in time is recorded, and when it proved a second factor (level 2 or more) the
     * second-factor count is cleared too. A password-only sign-in clears nothing of it.
     */
    completedParts(input: {
      userId: string;
      ip: string;
      addressPoints: number;
      level: number;
    }): StatementPart[] {
      return [
        ...(input.level >= 2 ? [throttle.clearFailuresPart(input.userId)] : []),
        ...(input.addressPoints > 0
          ? [throttle.refundPart(ipKey(input.ip), input.addressPoints)]
          : []),
        store.lastLoginPart(input.userId, new Date(clock.now())),
      ];
    },

    /** Deletes rate-limit windows that have ended. */
    sweep: () => throttle.sweep(new Date(clock.now())),
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
