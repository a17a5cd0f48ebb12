// A person's second factors as one picture (which they have, what level they can reach), and
// the rule for removing one: never the last where policy requires a second factor.
import { DomainError } from '../errors.ts';
import type { Level } from './assurance.ts';
import type { RecoveryCodes } from './recoveryCodes.ts';
import type { FactorRows, MfaStore } from './store.ts';
import type { Totp } from './totp.ts';
import { type Credential, toCredential, type WebAuthn } from './webauthn.ts';

export interface FactorSummary {
  totp: boolean;
  credentials: Credential[];
  recoveryCodesLeft: number;
  /** An authenticator app or a WebAuthn credential (recovery codes are only a backup). */
  hasSecondFactor: boolean;
  /** The strongest level the person can reach: 3 with WebAuthn, 2 with an app, else 1. */
  strongest: Level;
}

/** The summary of the factors the store read (`factorSummary`, or with a login's progress). */
export function toSummary(factors: FactorRows): FactorSummary {
  const credentials = factors.credentials.map(toCredential);
  return {
    totp: factors.totp,
    credentials,
    recoveryCodesLeft: factors.recoveryCodesLeft,
    hasSecondFactor: factors.totp || credentials.length > 0,
    strongest: credentials.length > 0 ? 3 : factors.totp ? 2 : 1,
  };
}

export function createFactors({
  store,
  totp,
  webauthn,
  recoveryCodes,
  requireMfa,
}: {
  /** For the summary: the three tables read in one statement. */
  store: MfaStore;
  totp: Totp;
  webauthn: WebAuthn;
  recoveryCodes: RecoveryCodes;
  requireMfa: boolean;
}) {
  async function summary(userId: string): Promise<FactorSummary> {
    return toSummary(await store.factorSummary(userId));
  }

  /** Throws when removing one factor of this kind would leave none where one is required. */
  async function assertRemovable(userId: string, kind: 'totp' | 'webauthn'): Promise<void> {
    const s = await summary(userId);
    const left =
      (kind === 'totp' ? 0 : s.totp ? 1 : 0) +
      (kind === 'webauthn' ? s.credentials.length - 1 : s.credentials.length);
    if (requireMfa && left <= 0) {
      const err = new DomainError(
        'forbidden',
        'This is your last second factor, and this service requires one. Add another before removing it.',
      );
      err.page = { key: 'factors.error.lastFactor' };
      throw err;
    }
  }

  return {
    summary,
    assertRemovable,
    /**
     * An administrator's reset: every second factor and recovery code goes, so the person enrols
     * again at their next sign-in that needs one. Returns what was removed.
     */
    async resetAll(
      userId: string,
    ): Promise<{ totp: boolean; credentials: number; recoveryCodes: number }> {
      const totpRemoved = await totp.remove(userId);
      const credentials = await webauthn.removeAll(userId);
      const codes = await recoveryCodes.remove(userId);
      return { totp: totpRemoved, credentials, recoveryCodes: codes };
    },

    /** After the last factor is gone, the recovery codes go too (they recover a second factor). */
    async afterRemoval(userId: string): Promise<void> {
      if (!(await summary(userId)).hasSecondFactor) await recoveryCodes.remove(userId);
    },
  };
}

export type Factors = ReturnType<typeof createFactors>;
