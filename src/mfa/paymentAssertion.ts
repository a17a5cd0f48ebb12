// Dynamic linking (PSD2 RTS Art. 5): a WebAuthn assertion made for one payment. Its challenge is
// derived from the payment's canonical hash, the consent id and a fresh nonce; only the hash of
// that challenge is stored (purpose 'payment', bound to the interaction and the consent), so it
// works once. Verification recomputes it from the consent as stored and the payment as it stands.
import { randomBytes } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  VerifiedAuthenticationResponse,
} from '@simplewebauthn/server';
import type { Clock } from '../clock.ts';
import { canonicalHash, dynamicLinkingChallenge } from '../consents/canonical.ts';
import type { AuthorizationDetail } from '../consents/detailTypes.ts';
import { simpleWebAuthn } from './simpleWebAuthn.ts';
import type { MfaStore } from './store.ts';
import {
  type Authenticated,
  CHALLENGE_TTL_MS,
  hash,
  toCredential,
  WebAuthnError,
} from './webauthn.ts';

const PURPOSE = 'payment';

/** The payment the consent holds is not the one the request now carries: nothing is authorised. */
export class PaymentChangedError extends WebAuthnError {
  override name = 'PaymentChangedError';
  constructor() {
    super(
      'The payment changed after you saw it. Nothing was paid; go back to the application and start again.',
      'payment_changed',
    );
  }
}

/** What the assertion is bound to: the consent as stored (re-read by the caller). */
export interface PaymentConsent {
  id: string;
  canonicalHash: string;
}

const binding = (interactionUid: string, consentId: string) =>
  hash(`${interactionUid}\n${consentId}`);

export function createPaymentAssertion({
  store,
  clock,
  issuer,
}: {
  store: MfaStore;
  clock: Clock;
  issuer: string;
}) {
  const origin = new URL(issuer).origin;
  const rpID = new URL(issuer).hostname;

  return {
    /**
     * Assertion options for this payment, limited to the person's own credentials (none: the
     * person has no WebAuthn credential and cannot authorise a payment). The nonce goes back with
     * the assertion; it is not secret, the stored challenge hash makes it single use.
     */
    async options(input: { interactionUid: string; consent: PaymentConsent; userId: string }) {
      const credentials = await store.credentialsOf(input.userId);
      if (credentials.length === 0) return undefined;
      const nonce = randomBytes(32).toString('base64url');
      const challenge = dynamicLinkingChallenge({
        canonicalHash: input.consent.canonicalHash,
        consentId: input.consent.id,
        nonce,
      });
      await store.insertChallenge({
        challenge_hash: hash(challenge),
        purpose: PURPOSE,
        binding: binding(input.interactionUid, input.consent.id),
        user_id: input.userId,
        expires_at: new Date(clock.now() + CHALLENGE_TTL_MS),
      });
      const options = await (await simpleWebAuthn()).generateAuthenticationOptions({
        rpID,
        challenge,
        allowCredentials: credentials.map((c) => ({
          id: c.credential_id,
          transports: c.transports as never,
        })),
        userVerification: 'preferred',
      });
      return { options, nonce };
    },

    /**
     * Verifies an assertion for the payment: `consent` as re-read from the database, `details`
     * the interaction's authorization_details as they stand now. A payment whose canonical hash
     * is not the consent's fails (PaymentChangedError) before any signature is looked at; the
     * challenge is recomputed from the stored hash, the consent id and the nonce, and must be
     * the one issued for this interaction and consent (consumed: single use).
     */
    async verify(input: {
      interactionUid: string;
      consent: PaymentConsent;
      details: AuthorizationDetail[];
      nonce: string;
      userId: string;
      response: AuthenticationResponseJSON;
    }): Promise<Authenticated> {
      const { consent, userId, response } = input;
      if (canonicalHash(input.details) !== consent.canonicalHash) throw new PaymentChangedError();
      const row =
        typeof response?.id === 'string' ? await store.credentialById(response.id) : undefined;
      if (!row || row.user_id !== userId)
        throw new WebAuthnError('this key is not registered', 'unknown_credential');
      const expected = dynamicLinkingChallenge({
        canonicalHash: consent.canonicalHash,
        consentId: consent.id,
        nonce: input.nonce,
      });
      let result: VerifiedAuthenticationResponse;
      try {
        result = await (await simpleWebAuthn()).verifyAuthenticationResponse({
          response,
          expectedChallenge: async (echoed: string) => {
            if (Buffer.from(echoed, 'base64url').toString('utf8') !== expected) return false;
            const used = await store.consumeChallenge(
              hash(expected),
              PURPOSE,
              binding(input.interactionUid, consent.id),
              new Date(clock.now()),
            );
            return used !== undefined && used.user_id === userId;
          },
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: false,
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
        if (/counter/i.test(message))
          throw new WebAuthnError('the signature counter went backwards', 'counter_rollback');
        if (/challenge/i.test(message))
          throw new WebAuthnError('the challenge is unknown, used or expired', 'challenge');
        throw new WebAuthnError('the signature could not be verified', 'verification');
      }
      if (!result.verified)
        throw new WebAuthnError('the signature could not be verified', 'verification');
      const info = result.authenticationInfo;
      if (
        !(await store.advanceCounter(
          row.id,
          info.newCounter,
          info.credentialBackedUp,
          new Date(clock.now()),
        ))
      ) {
        throw new WebAuthnError('the signature counter did not advance', 'counter_rollback');
      }
      return {
        userId: row.user_id,
        credential: toCredential({ ...row, backed_up: info.credentialBackedUp }),
        userVerified: info.userVerified,
      };
    },
  };
}

export type PaymentAssertion = ReturnType<typeof createPaymentAssertion>;
