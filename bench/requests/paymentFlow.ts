// One payment consent, as a FAPI 2.0 third party, the person's browser and their passkey do it:
// PAR with a payment_initiation detail, the sign-in and consent pages (loginFlow.ts), the consent
// page's WebAuthn assertion over this payment, the code exchange with DPoP, then the bank's
// payment service consuming the consent. Shared by the load generator (payment.ts) and the dry
// run (scenarios/payment.ts), so both speak exactly the same protocol.
import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { SoftAuthenticator } from '../../test/support/softAuthenticator.ts';
import type { Payer } from '../payments.ts';
import { dpopSigner, fapiAssertionSigner } from './fapiToken.ts';
import { type ConsentFields, type FlowState, newFlow } from './loginFlow.ts';
import type { RequestParts } from './types.ts';

export interface PaymentFlowOptions {
  /** The issuer identifier: the assertions' `aud`, the DPoP proofs' `htu` base, the passkey's origin. */
  issuer: string;
  /** Endpoint paths, from discovery. */
  parPath: string;
  authorizationPath: string;
  tokenPath: string;
  /** The third party (fapi2, private_key_jwt). */
  clientId: string;
  privateJwk: Record<string, unknown> & { kid: string };
  redirectUri: string;
  scope: string;
  resource: string;
  password: string;
  /** The bank's client-credentials access token (the API's consent scope) that consumes. */
  bankToken: string;
  payers: Payer[];
}

export interface PaymentState extends FlowState {
  payer: Payer;
  /** The amount requested: the token must carry exactly this one. */
  amount: string;
  consentId?: string;
}

/** A payment's details: the amount changes with `n` (built as a decimal string, never a float). */
export function paymentDetails(n: number): Record<string, unknown>[] {
  const euros = String(10 + (n % 990));
  const cents = String(n % 100).padStart(2, '0');
  return [
    {
      type: 'payment_initiation',
      instructedAmount: { currency: 'EUR', amount: `${euros}.${cents}` },
      creditorName: 'ACME GmbH',
      creditorAccount: { iban: 'DE89370400440532013000' },
      remittanceInformation: `Invoice ${n}`,
    },
  ];
}

const OPTIONS_SCRIPT =
  /<script type="application\/json" id="payment-assertion-options"[^>]*>([\s\S]*?)<\/script>/;
/** The payment form (data-webauthn="payment"), whose hidden fields go back with the assertion. */
const PAYMENT_FORM =
  /<form method="post" action="[^"]+" data-webauthn="payment"[^>]*>([\s\S]*?)<\/form>/;
const HIDDEN = /<input type="hidden" name="([^"]+)" value="([^"]*)"/g;
const unescapeHtml = (value: string) =>
  value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** What a consume response says of the consent. */
const CONSUMED = '"status":"consumed"';

const claimsOf = (jwt: string): Record<string, unknown> => {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return {};
  }
};

/** The protocol steps of one payment, with the client's keys and the payers' passkeys loaded once. */
export function paymentFlow(o: PaymentFlowOptions) {
  const assertion = fapiAssertionSigner(o);
  const proof = dpopSigner(`${o.issuer.replace(/\/$/, '')}${o.tokenPath}`);
  const clientAuth = () => ({
    client_id: o.clientId,
    client_assertion_type: ASSERTION,
    client_assertion: assertion(),
  });
  // The people's passkeys, rebuilt from their private JWKs (synced passkeys: counter 0 each time).
  const authenticator = new SoftAuthenticator({ origin: new URL(o.issuer).origin, synced: true });
  const rpId = new URL(o.issuer).hostname;
  for (const { passkey } of o.payers) {
    const privateKey = createPrivateKey({ key: passkey.privateJwk as never, format: 'jwk' });
    authenticator.credentials.set(passkey.id, {
      id: passkey.id,
      rpId,
      userHandle: passkey.userHandle,
      privateKey,
      publicKey: createPublicKey(privateKey),
      counter: 0,
    });
  }
  let payments = randomBytes(2).readUInt16BE();

  /** The page's assertion options, answered by the payer's passkey as the page's script would. */
  const consentFields: ConsentFields = (page, flow) => {
    const script = OPTIONS_SCRIPT.exec(page);
    const form = PAYMENT_FORM.exec(page);
    if (!script || !form) return undefined;
    // The form's own fields (_csrf, the consent id, the page's nonce, decision=approve).
    const fields: Record<string, string> = {};
    for (const [, name, value] of form[1]!.matchAll(HIDDEN)) fields[name!] = unescapeHtml(value!);
    let options: PublicKeyCredentialRequestOptionsJSON;
    try {
      options = JSON.parse(script[1]!);
    } catch {
      return undefined;
    }
    const { passkey } = (flow as PaymentState).payer;
    const response = authenticator.authenticate(options, { credentialId: passkey.id, counter: 0 });
    return { ...fields, assertion: JSON.stringify(response) };
  };

  return {
    consentFields,

    /** A new payment by `payer`: its state and the PAR request. */
    start(payer: Payer): { flow: PaymentState; request: RequestParts } {
      const details = paymentDetails(payments++);
      const { amount } = details[0]!.instructedAmount as { amount: string };
      const flow: PaymentState = { ...newFlow(payer), payer, amount };
      const body = new URLSearchParams({
        ...clientAuth(),
        response_type: 'code',
        redirect_uri: o.redirectUri,
        scope: o.scope,
        resource: o.resource,
        state: flow.state,
        code_challenge: createHash('sha256').update(flow.verifier).digest('base64url'),
        code_challenge_method: 'S256',
        authorization_details: JSON.stringify(details),
      });
      return {
        flow,
        request: {
          method: 'POST',
          path: o.parPath,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: body.toString(),
        },
      };
    },

    /** The PAR response: 201 with a request_uri, which the browser then takes to /auth. */
    pushed(flow: PaymentState, status: number, body: string): boolean {
      if (status !== 201) return false;
      let requestUri: unknown;
      try {
        requestUri = (JSON.parse(body) as { request_uri?: unknown }).request_uri;
      } catch {
        return false;
      }
      if (typeof requestUri !== 'string') return false;
      const query = new URLSearchParams({ client_id: o.clientId, request_uri: requestUri });
      flow.next = { method: 'GET', path: `${o.authorizationPath}?${query}` };
      return true;
    },

    /** POST /token: the code, the PKCE verifier, a fresh client assertion and DPoP proof. */
    tokenRequest(flow: PaymentState): RequestParts {
      return {
        method: 'POST',
        path: o.tokenPath,
        headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof() },
        body: new URLSearchParams({
          ...clientAuth(),
          grant_type: 'authorization_code',
          code: flow.code ?? 'missing',
          redirect_uri: o.redirectUri,
          code_verifier: flow.verifier,
          resource: o.resource,
        }).toString(),
      };
    },

    /**
     * The token response: a DPoP-bound JWT carrying the consent id, and the granted
     * authorization_details (the payment as requested: its amount) in the response.
     */
    tokens(flow: PaymentState, status: number, body: string): boolean {
      if (status !== 200) return false;
      let json: { access_token?: unknown; token_type?: unknown; authorization_details?: unknown };
      try {
        json = JSON.parse(body);
      } catch {
        return false;
      }
      if (json.token_type !== 'DPoP' || typeof json.access_token !== 'string') return false;
      const granted = json.authorization_details as { instructedAmount?: { amount?: unknown } }[];
      if (!Array.isArray(granted) || granted.length !== 1) return false;
      if (granted[0]?.instructedAmount?.amount !== flow.amount) return false;
      const consentId = claimsOf(json.access_token).consent_id;
      if (typeof consentId !== 'string') return false;
      flow.consentId = consentId;
      return true;
    },

    /** The bank's payment service consumes the consent (POST /consents/{id}/consume). */
    consumeRequest(flow: PaymentState): RequestParts {
      return {
        method: 'POST',
        path: `/consents/${encodeURIComponent(flow.consentId ?? 'missing')}/consume`,
        headers: { authorization: `Bearer ${o.bankToken}` },
      };
    },

    /** The consume response: 200, this consent, now consumed. */
    consumed(flow: PaymentState, status: number, body: string): boolean {
      return (
        status === 200 &&
        body.includes(CONSUMED) &&
        flow.consentId !== undefined &&
        body.includes(`"id":"${flow.consentId}"`)
      );
    },
  };
}

export type PaymentFlow = ReturnType<typeof paymentFlow>;
