// TOTP (RFC 6238): SHA-1, 6 digits, 30-second steps, one step of drift either way. The seed is
// sealed at rest; a code is accepted once: its time step is recorded atomically and a code for
// that or an earlier step is refused (NIST SP 800-63B 5.1.4.2).
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { generateSecret, generateSync, generateURI } from 'otplib';
import type { Clock } from '../clock.ts';
import type { StatementPart } from '../db/together.ts';
import { conflict, invalid } from '../errors.ts';
import type { Sealer } from '../keys/envelope.ts';
import type { MfaStore, TotpRow } from './store.ts';

const PERIOD = 30;
const DRIFT_STEPS = 1;

/** An authenticator app's row, as `lookupPart` reads it for `verifyWith`. */
export type { TotpRow };

export type TotpCheck = 'ok' | 'invalid' | 'replayed' | 'none';

/** What a seed is sealed to (its owner), so a sealed seed cannot be moved to another account. */
const totpSealContext = (userId: string) => `totp:${userId}`;

function codeAt(secret: string, step: number): string {
  return generateSync({
    secret,
    epoch: step * PERIOD,
    period: PERIOD,
    digits: 6,
    algorithm: 'sha1',
  });
}

/** The time step (within the drift window) whose code equals `code`, if any. */
function matchingStep(secret: string, code: string, now: number): number | undefined {
  const current = Math.floor(now / 1000 / PERIOD);
  const given = Buffer.from(code);
  let found: number | undefined;
  // Check every step in the window (no early exit) so timing does not tell which one matched.
  for (let step = current - DRIFT_STEPS; step <= current + DRIFT_STEPS; step++) {
    const expected = Buffer.from(codeAt(secret, step));
    if (expected.length === given.length && timingSafeEqual(expected, given)) found ??= step;
  }
  return found;
}

/** A base32 seed of at least 80 bits (RFC 4226 asks for 128, authenticator apps accept 80). */
const BASE32_SEED = /^[A-Z2-7]{16,}=*$/;

export const normalizeCode = (code: string) => code.replace(/[\s-]/g, '');

export function createTotp({
  store,
  sealer,
  clock,
  issuer,
}: {
  /** The second-factor tables' store, shared with the other services of mfa/. */
  store: MfaStore;
  sealer: Sealer;
  clock: Clock;
  issuer: string;
}) {
  async function present(enrolmentId: string, label: string, secret: string) {
    const uri = generateURI({
      issuer,
      label,
      secret,
      algorithm: 'sha1',
      digits: 6,
      period: PERIOD,
    });
    return {
      enrolmentId,
      secret,
      uri,
      // Loaded on first enrolment, not at start-up (issue 14).
      qrDataUrl: await (await import('qrcode')).default.toDataURL(uri, { margin: 1, width: 220 }),
    };
  }

  /** A code checked against `row`; its step is then claimed as used (its own atomic update). */
  async function verifyWith(
    userId: string,
    row: TotpRow | undefined,
    code: string,
  ): Promise<TotpCheck> {
    if (!row || row.user_id !== userId) return 'none';
    const step = matchingStep(
      sealer.openString(row.secret_sealed, totpSealContext(userId)),
      normalizeCode(code),
      clock.now(),
    );
    if (step === undefined) return 'invalid';
    return (await store.useTotpStep(row.id, step)) ? 'ok' : 'replayed';
  }

  return {
    /**
     * Starts an enrolment: a new seed, kept sealed and unconfirmed until a valid code is given.
     * Returns what the person needs to add it to an authenticator app.
     */
    async startEnrolment(user: { id: string; email: string }) {
      const secret = generateSecret({ length: 20 });
      const id = randomUUID();
      await store.insertTotp({
        id,
        user_id: user.id,
        secret_sealed: sealer.seal(secret, totpSealContext(user.id)),
        last_used_step: null,
        created_at: new Date(clock.now()),
        confirmed_at: null,
      });
      return present(id, user.email, secret);
    },

    /** The same enrolment again (to show its QR code once more after a wrong code). */
    async pendingEnrolment(user: { id: string; email: string }, enrolmentId: string) {
      const pending = await store.pendingTotp(user.id, enrolmentId);
      if (!pending) return undefined;
      return present(
        enrolmentId,
        user.email,
        sealer.openString(pending.secret_sealed, totpSealContext(user.id)),
      );
    },

    /** Confirms an enrolment with one valid code; it then replaces any earlier authenticator. */
    async confirmEnrolment(userId: string, enrolmentId: string, code: string): Promise<boolean> {
      const pending = await store.pendingTotp(userId, enrolmentId);
      if (!pending) return false;
      const step = matchingStep(
        sealer.openString(pending.secret_sealed, totpSealContext(userId)),
        normalizeCode(code),
        clock.now(),
      );
      if (step === undefined) return false;
      return store.confirmTotp(userId, enrolmentId, step, new Date(clock.now()));
    },

    /** Checks a code of the person's confirmed authenticator, accepting each time step once. */
    verify: async (userId: string, code: string): Promise<TotpCheck> =>
      verifyWith(userId, await store.confirmedTotp(userId), code),

    /**
     * The lookup of the person's confirmed authenticator, read in the statement that claims the
     * attempt (Authenticator.claimFactorAttempt); `verifyWith` then checks the code against it.
     */
    lookupPart: (userId: string): StatementPart => store.confirmedTotpPart(userId),
    /** `verify` with the authenticator already read (undefined: the person has none). */
    verifyWith,

    /**
     * Imports authenticators whose seeds are known (moving from another server, or test users),
     * confirmed as they are: each seed is sealed to its person like an enrolled one. All or none;
     * a person who already has a confirmed authenticator makes the whole import fail.
     */
    async importConfirmed(entries: { userId: string; secret: string }[]): Promise<number> {
      const now = new Date(clock.now());
      const rows = entries.map((e, i) => {
        const secret = e.secret.replace(/\s/g, '').toUpperCase();
        if (!BASE32_SEED.test(secret))
          throw invalid(`entry ${i + 1}: a seed is 16 or more base32 characters`, 'secret');
        return {
          id: randomUUID(),
          user_id: e.userId,
          secret_sealed: sealer.seal(secret, totpSealContext(e.userId)),
          last_used_step: null,
          created_at: now,
          confirmed_at: now,
        };
      });
      try {
        await store.insertConfirmedTotps(rows);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === '23505')
          throw conflict('one of these people already has an authenticator app', 'userId');
        if (code === '23503') throw invalid('one of these people does not exist', 'userId');
        throw err;
      }
      return rows.length;
    },

    async has(userId: string): Promise<boolean> {
      return (await store.confirmedTotp(userId)) !== undefined;
    },

    async remove(userId: string): Promise<boolean> {
      return (await store.deleteTotp(userId)) > 0;
    },

    /** Moves every sealed seed to the newest ENCRYPTION_KEYS entry; returns how many moved. */
    async reencrypt(): Promise<number> {
      let moved = 0;
      for (const row of await store.allTotp()) {
        if (sealer.keyIdOf(row.secret_sealed) === sealer.activeKeyId) continue;
        await store.updateTotpSealed(row.id, sealer.rewrap(row.secret_sealed));
        moved++;
      }
      return moved;
    },
  };
}

export type Totp = ReturnType<typeof createTotp>;
