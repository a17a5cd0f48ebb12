// WebAuthn registration and authentication (security keys and passkeys) with SimpleWebAuthn.
// The relying party is the issuer's host. Challenges are 256-bit, stored only as hashes, bound
// to one interaction or session, single use and short-lived. A signature counter that goes
// backwards is refused.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  RegistrationResponseJSON,
  VerifiedAuthenticationResponse,
  VerifiedRegistrationResponse,
} from '@simplewebauthn/server';
import type { Clock } from '../clock.ts';
import { invalid } from '../errors.ts';
import { simpleWebAuthn } from './simpleWebAuthn.ts';
import type { CredentialRow, MfaStore } from './store.ts';

export const CHALLENGE_TTL_MS = 5 * 60 * 1000;
export const hash = (value: string) => createHash('sha256').update(value).digest('base64url');

export class WebAuthnError extends Error {
  override name = 'WebAuthnError';
  constructor(
    message: string,
    /** Why, for the audit log: never shown as such to the person. */
    readonly reason:
      | 'challenge'
      | 'unknown_credential'
      | 'verification'
      | 'counter_rollback'
      | 'user_verification'
      | 'already_registered'
      | 'payment_changed',
  ) {
    super(message);
  }
}

/**
 * The credential is registered already (to this person or someone else, e.g. by an authenticator
 * that ignored excludeCredentials): nothing was added. Its message is written for people.
 */
export class CredentialExistsError extends WebAuthnError {
  override name = 'CredentialExistsError';
  constructor() {
    super(
      'This security key or passkey is already registered. Use it to sign in, or add a different one.',
      'already_registered',
    );
  }
}

/** The JSON a page posts for a ceremony; malformed JSON is a failed ceremony, not a crash. */
export function parseWebAuthnResponse<T>(json: string | undefined): T {
  try {
    return JSON.parse(json ?? 'null') as T;
  } catch {
    throw new WebAuthnError('the response is not JSON', 'verification');
  }
}

export interface Credential {
  id: string;
  name: string;
  deviceType: string;
  backedUp: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface Authenticated {
  userId: string;
  credential: Credential;
  userVerified: boolean;
}

export const toCredential = (
  r: Pick<
    CredentialRow,
    'id' | 'name' | 'device_type' | 'backed_up' | 'created_at' | 'last_used_at'
  >,
): Credential => ({
  id: r.id,
  name: r.name,
  deviceType: r.device_type,
  backedUp: r.backed_up,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

/** RFC 8176 methods of a WebAuthn sign-in: synced passkeys are software keys. */
export function webauthnAmr(a: Authenticated): string[] {
  return [
    a.credential.deviceType === 'multiDevice' ? 'swk' : 'hwk',
    ...(a.userVerified ? ['user'] : []),
  ];
}

export function createWebAuthn({
  store,
  clock,
  issuer,
  rpName,
}: {
  store: MfaStore;
  clock: Clock;
  issuer: string;
  rpName: string;
}) {
  const origin = new URL(issuer).origin;
  const rpID = new URL(issuer).hostname;

  async function newChallenge(
    purpose: string,
    binding: string,
    userId: string | null,
  ): Promise<string> {
    const challenge = randomBytes(32).toString('base64url');
    await store.insertChallenge({
      challenge_hash: hash(challenge),
      purpose,
      binding: hash(binding),
      user_id: userId,
      expires_at: new Date(clock.now() + CHALLENGE_TTL_MS),
    });
    return challenge;
  }

  /**
   * The challenge check SimpleWebAuthn calls: consumes it, so it works exactly once. It gets the
   * challenge as the browser echoed it: base64url of the string the options carried.
   */
  const consuming =
    (purpose: string, binding: string, userId: string | null) => async (echoed: string) => {
      const challenge = Buffer.from(echoed, 'base64url').toString('utf8');
      const row = await store.consumeChallenge(
        hash(challenge),
        purpose,
        hash(binding),
        new Date(clock.now()),
      );
      return row !== undefined && row.user_id === userId;
    };

  return {
    rpID,

    /** Options for adding a credential to `user` (excluding the ones they already have). */
    async registrationOptions(user: { id: string; email: string; name: string }, binding: string) {
      const existing = await store.credentialsOf(user.id);
      const challenge = await newChallenge('register', binding, user.id);
      return (await simpleWebAuthn()).generateRegistrationOptions({
        rpName,
        rpID,
        userName: user.email,
        userDisplayName: user.name || user.email,
        userID: new TextEncoder().encode(user.id),
        challenge,
        attestationType: 'none',
        excludeCredentials: existing.map((c) => ({
          id: c.credential_id,
          transports: c.transports as never,
        })),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      });
    },

    async register(
      userId: string,
      binding: string,
      response: RegistrationResponseJSON,
      name: string,
    ): Promise<Credential> {
      const label = name.trim().slice(0, 64);
      if (!label)
        throw Object.assign(invalid('give the key a name you will recognise', 'name'), {
          page: { key: 'webauthn.error.nameMissing' },
        });
      let result: VerifiedRegistrationResponse;
      try {
        result = await (await simpleWebAuthn()).verifyRegistrationResponse({
          response,
          expectedChallenge: consuming('register', binding, userId),
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: false,
        });
      } catch (err) {
        // The library's messages quote the challenge: keep them out of errors and logs.
        const reason = /challenge/i.test((err as Error).message) ? 'challenge' : 'verification';
        throw new WebAuthnError('the registration could not be verified', reason);
      }
      if (!result.verified)
        throw new WebAuthnError('registration could not be verified', 'verification');
      const info = result.registrationInfo;
      const row: CredentialRow = {
        id: randomUUID(),
        user_id: userId,
        credential_id: info.credential.id,
        public_key: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        transports: info.credential.transports ?? [],
        device_type: info.credentialDeviceType,
        backed_up: info.credentialBackedUp,
        aaguid: info.aaguid,
        name: label,
        created_at: new Date(clock.now()),
        last_used_at: null,
      };
      if (!(await store.insertCredential(row))) throw new CredentialExistsError();
      return toCredential(row);
    },

    /**
     * Options for signing in: with `userId` the person's own credentials (a second factor);
     * without, any discoverable credential (a passkey sign-in, user verification required).
     */
    async authenticationOptions(binding: string, userId?: string) {
      const allow = userId ? await store.credentialsOf(userId) : [];
      const challenge = await newChallenge('authenticate', binding, userId ?? null);
      return (await simpleWebAuthn()).generateAuthenticationOptions({
        rpID,
        challenge,
        allowCredentials: allow.map((c) => ({
          id: c.credential_id,
          transports: c.transports as never,
        })),
        userVerification: userId ? 'preferred' : 'required',
      });
    },

    async authenticate(
      binding: string,
      response: AuthenticationResponseJSON,
      userId?: string,
    ): Promise<Authenticated> {
      const row =
        typeof response?.id === 'string' ? await store.credentialById(response.id) : undefined;
      if (!row || (userId && row.user_id !== userId))
        throw new WebAuthnError('this key is not registered', 'unknown_credential');
      const passwordless = !userId;
      let result: VerifiedAuthenticationResponse;
      try {
        result = await (await simpleWebAuthn()).verifyAuthenticationResponse({
          response,
          expectedChallenge: consuming('authenticate', binding, userId ?? null),
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: passwordless,
          credential: {
            id: row.credential_id,
            publicKey: Buffer.from(row.public_key, 'base64url'),
            counter: row.counter,
            transports: row.transports as never,
          },
        });
      } catch (err) {
        // The library's messages quote the challenge: keep them out of errors and logs.
        const message = (err as Error).message;
        if (/counter/i.test(message)) {
          throw new WebAuthnError('the signature counter went backwards', 'counter_rollback');
        }
        if (/user verification/i.test(message)) {
          throw new WebAuthnError('user verification is required', 'user_verification');
        }
        if (/challenge/i.test(message)) {
          throw new WebAuthnError('the challenge is unknown, used or expired', 'challenge');
        }
        throw new WebAuthnError('the signature could not be verified', 'verification');
      }
      const info = result.authenticationInfo;
      if (!result.verified)
        throw new WebAuthnError('the signature could not be verified', 'verification');
      // A passkey sign-in names its owner; it must be the owner of the credential.
      if (passwordless && response.response.userHandle) {
        const owner = Buffer.from(response.response.userHandle, 'base64url').toString('utf8');
        if (owner !== row.user_id)
          throw new WebAuthnError('the passkey does not belong to its account', 'verification');
      }
      if (
        !(await store.advanceCounter(
          row.id,
          info.newCounter,
          info.credentialBackedUp,
          new Date(clock.now()),
        ))
      ) {
        throw new WebAuthnError(
          `signature counter ${info.newCounter} did not advance past ${row.counter}`,
          'counter_rollback',
        );
      }
      return {
        userId: row.user_id,
        credential: toCredential({ ...row, backed_up: info.credentialBackedUp }),
        userVerified: info.userVerified,
      };
    },

    list: async (userId: string) => (await store.credentialsOf(userId)).map(toCredential),
    rename: (userId: string, id: string, name: string) =>
      store.renameCredential(userId, id, name.trim().slice(0, 64)),
    remove: (userId: string, id: string) => store.deleteCredential(userId, id),
    /** Removes every credential of the person; returns how many there were. */
    removeAll: (userId: string) => store.deleteCredentials(userId),
  };
}

export type WebAuthn = ReturnType<typeof createWebAuthn>;
