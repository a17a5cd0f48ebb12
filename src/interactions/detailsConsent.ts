// The consent page of a request with authorization_details (RFC 9396): each payment or account
// access in words people read, the consent record behind it, and for a payment the WebAuthn
// assertion made on the page for exactly that payment (dynamic linking), even at level 3.
import type Koa from 'koa';
import { canonicalHash } from '../consents/canonical.ts';
import type { Consent } from '../consents/consents.ts';
import { ALL_ACCOUNTS, presentDetail } from '../consents/present.ts';
import { PageError } from '../http/pageError.ts';
import { PaymentChangedError } from '../mfa/paymentAssertion.ts';
import {
  type Authenticated,
  parseWebAuthnResponse,
  WebAuthnError,
  webauthnAmr,
} from '../mfa/webauthn.ts';
import type { ConsentDecision, LoginResult, PendingInteraction } from '../oidc/bridge.ts';
import { type InteractionDeps, renderPage, requestOrigin } from './context.ts';

/** What the scope part of the consent page shows (built by consent.ts). */
export interface ScopesView {
  clientName: string;
  email: string;
  identity: string[];
  apis: { name: string; scopes: { name: string; description: string }[] }[];
  unavailable: string[];
}

const PAYMENT = 'payment_initiation';
const NOT_VERIFIED = 'webauthn.error.verify';
const CHANGED = 'consent.error.changed';
const CLOSED = 'consent.error.closed';

/**
 * What the page's CSRF token is bound to: the interaction and the consent it shows, so a form can
 * only decide on the consent opened for its own login.
 */
export const consentFormBinding = (interactionUid: string, consentId: string | undefined) =>
  `${interactionUid}\n${consentId ?? ''}`;

const isPayment = (consent: Consent) => consent.details.some((d) => d.type === PAYMENT);

export function detailsConsent(
  deps: InteractionDeps,
  scopes: {
    view(i: PendingInteraction): Promise<ScopesView>;
    decision(i: PendingInteraction): Promise<ConsentDecision>;
  },
) {
  const { views, csrf, consents, paymentAssertion, bridge } = deps;

  /** The page: the details of the consent opened for this interaction, and how to decide. */
  async function show(
    ctx: Koa.Context,
    i: PendingInteraction,
    extra: { error?: string; status?: number } = {},
  ): Promise<void> {
    const accountId = i.session!.accountId;
    const consent = await consents.open({
      clientId: i.client.clientId,
      accountId,
      interactionUid: i.uid,
      details: i.authorizationDetails ?? [],
    });
    const locale = deps.views.translatorFor(ctx).tag;
    const payment = isPayment(consent);
    const assertion = payment
      ? await paymentAssertion.options({ interactionUid: i.uid, consent, userId: accountId })
      : undefined;
    renderPage(
      ctx,
      views,
      'consent',
      {
        uid: i.uid,
        ...(await scopes.view(i)),
        details: consent.details.map((d) => presentDetail(d, locale)),
        allAccounts: ALL_ACCOUNTS,
        consentId: consent.id,
        payment,
        needsPasskey: payment && !assertion,
        nonce: assertion?.nonce ?? '',
        // A data block, never executed; '<' escaped so it cannot close the script element.
        assertionOptions: assertion
          ? JSON.stringify(assertion.options).replace(/</g, '\\u003c')
          : '',
        error: extra.error,
        csrf: csrf.token(consentFormBinding(i.uid, consent.id), 'consent'),
      },
      extra.status,
    );
  }

  /** The consent the form names (its CSRF token binds it to this login), if this person's and client's. */
  async function openConsent(i: PendingInteraction, id: string | undefined) {
    const consent = id ? await consents.find(id) : undefined;
    const ours =
      consent?.accountId === i.session!.accountId && consent.clientId === i.client.clientId;
    return ours ? consent : undefined;
  }

  async function deny(ctx: Koa.Context, i: PendingInteraction, form: Record<string, string>) {
    const consent = await openConsent(i, form.consent);
    if (consent?.status === 'awaiting_authorisation')
      await consents.reject(consent.id, i.session!.accountId);
    await deps.record({
      actor: { type: 'user', id: i.session!.accountId },
      action: 'consent.rejected',
      target: { type: 'client', id: i.client.clientId },
      outcome: 'success',
      ...requestOrigin(ctx),
      details: consent ? { consent: consent.id, detailTypes: consent.types } : {},
    });
    await bridge.abort(ctx, 'access_denied', 'the user denied the request');
  }

  /** A payment: the assertion over this payment, or the page again / the refusal, with why. */
  async function verifyPayment(
    ctx: Koa.Context,
    i: PendingInteraction,
    consent: Consent,
    form: Record<string, string>,
  ): Promise<Authenticated | undefined> {
    const accountId = i.session!.accountId;
    const audit = (outcome: 'success' | 'failure', details: Record<string, unknown>) =>
      deps.record({
        actor: { type: 'user', id: accountId },
        action: outcome === 'success' ? 'consent.payment_authorised' : 'consent.payment_failed',
        target: { type: 'consent', id: consent.id },
        outcome,
        ...requestOrigin(ctx),
        details: {
          consent: consent.id,
          canonicalHash: consent.canonicalHash,
          client: i.client.clientId,
          ...details,
        },
      });
    try {
      const done = await paymentAssertion.verify({
        interactionUid: i.uid,
        consent,
        details: i.authorizationDetails ?? [],
        nonce: form.nonce ?? '',
        userId: accountId,
        response: parseWebAuthnResponse(form.assertion),
      });
      await audit('success', { credential: done.credential.id, userVerified: done.userVerified });
      return done;
    } catch (err) {
      if (!(err instanceof WebAuthnError)) throw err;
      await audit('failure', { reason: err.reason });
      if (err instanceof PaymentChangedError)
        throw new PageError(409, 'consent.error.paymentChanged');
      if (err.reason === 'counter_rollback')
        deps.logger.warn(
          { user: accountId },
          'WebAuthn signature counter went backwards: possible cloned authenticator',
        );
      await show(ctx, i, { error: NOT_VERIFIED, status: 401 });
      return undefined;
    }
  }

  async function approve(ctx: Koa.Context, i: PendingInteraction, form: Record<string, string>) {
    const accountId = i.session!.accountId;
    const consent = await openConsent(i, form.consent);
    if (consent?.status !== 'awaiting_authorisation') throw new PageError(409, CLOSED);
    // A payment's assertion is a phishing-resistant authentication of the person, made now: the
    // session (and so the payment's tokens: acr, amr, auth_time) is at level 3 from here on.
    let reached: LoginResult | undefined;
    if (isPayment(consent)) {
      const done = await verifyPayment(ctx, i, consent, form);
      if (!done) return;
      reached = {
        accountId,
        acr: deps.assurance.acrFor(3),
        amr: [
          ...new Set([
            ...(i.session?.amr?.includes('pwd') ? ['pwd'] : []),
            ...webauthnAmr(done),
            'mfa',
          ]),
        ],
        ts: Math.floor(deps.clock.now() / 1000),
      };
    } else if (canonicalHash(i.authorizationDetails ?? []) !== consent.canonicalHash) {
      throw new PageError(409, CHANGED);
    }
    const d = await scopes.decision(i);
    // The grant carries exactly the consent's details (the ones shown and, for a payment, signed).
    const grantId = await bridge.grantConsent({ ...i, authorizationDetails: consent.details }, d);
    await consents.authorise(consent.id, { grantId, accountId });
    await deps.record({
      actor: { type: 'user', id: accountId },
      action: 'consent.given',
      target: { type: 'client', id: i.client.clientId },
      outcome: 'success',
      ...requestOrigin(ctx),
      details: {
        how: 'approved',
        scopes: d.grantOidcScopes,
        resources: d.grantResourceScopes,
        refused: Object.fromEntries(
          Object.entries(d.rejectResourceScopes).filter(([, refused]) => refused.length > 0),
        ),
        consent: consent.id,
        detailTypes: consent.types,
      },
    });
    await bridge.resumeAfterConsent(ctx, grantId, reached);
  }

  return {
    show,
    /** The form of the page: approve (with the assertion for a payment) or deny. */
    submit: (ctx: Koa.Context, i: PendingInteraction, form: Record<string, string>) =>
      form.decision === 'approve' ? approve(ctx, i, form) : deny(ctx, i, form),
  };
}
