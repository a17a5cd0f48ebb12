// Enrolling a second factor inside a login whose level is out of the person's reach (an app, or a
// security key / passkey), allowed at the level of the strongest factor already held. Enrolling
// never raises the login: it then asks to use a factor. The first factor brings recovery codes.
import type Koa from 'koa';
import { DomainError } from '../errors.ts';
import { msg } from '../i18n/translator.ts';
import { CredentialExistsError, parseWebAuthnResponse, WebAuthnError } from '../mfa/webauthn.ts';
import type { PendingInteraction } from '../oidc/bridge.ts';
import {
  domainMessage,
  type InteractionDeps,
  jsonError,
  renderPage,
  requestOrigin,
  seeOther,
} from './context.ts';
import type { LoginState, StepMessage } from './secondFactor.ts';

interface Flow {
  state(i: PendingInteraction): Promise<LoginState | undefined>;
  next(ctx: Koa.Context, i: PendingInteraction, s: LoginState, extra?: StepMessage): Promise<void>;
  load(
    ctx: Koa.Context,
    purpose: string,
  ): Promise<{ form: Record<string, string>; i: PendingInteraction; s: LoginState | undefined }>;
  claim(
    ctx: Koa.Context,
    i: PendingInteraction,
    s: LoginState,
    method: string,
  ): Promise<{ ok: true } | undefined>;
}

export const STRONGEST_FIRST = 'enrol.strongestFirst';

/** What the login asks after a factor was added: to use it (the enrolment proved nothing). */
const USE_IT = { totp: 'enrol.useTotp', webauthn: 'enrol.useWebauthn' };
const useIt = (method: string | undefined) =>
  method === 'totp' || method === 'webauthn' ? USE_IT[method] : undefined;

/**
 * Adding a factor needs a sign-in at the level of the strongest factor the person already has
 * (NIST SP 800-63B 6.1.2.1); someone with none may add their first after the password.
 */
const mayEnrol = (s: LoginState) => s.progress.level >= s.factors.strongest;

export function enrolmentSteps(deps: InteractionDeps, flow: Flow) {
  const { views, csrf, accounts, totp, webauthn, recoveryCodes, progress } = deps;
  const say = (ctx: Koa.Context, key: string) => views.translatorFor(ctx).t(key);

  async function page(
    ctx: Koa.Context,
    i: PendingInteraction,
    s: LoginState,
    extra: StepMessage = {},
    enrolmentId?: string,
  ): Promise<void> {
    const user = (await accounts.get(s.progress.userId))!;
    const offerTotp = s.target <= 2 && !s.factors.totp;
    const pending = offerTotp
      ? ((enrolmentId ? await totp.pendingEnrolment(user, enrolmentId) : undefined) ??
        (await totp.startEnrolment(user)))
      : undefined;
    renderPage(
      ctx,
      views,
      'enrol',
      {
        uid: i.uid,
        reason: msg(s.target >= 3 ? 'enrol.reasonLevel3' : 'enrol.reasonLevel2', {
          client: i.client.name,
        }),
        error: extra.error,
        totp: pending ? { ...pending, action: `/interaction/${i.uid}/enrol/totp` } : undefined,
        webauthnAction: `/interaction/${i.uid}/enrol/webauthn`,
        csrf: csrf.token(i.uid, 'enrol'),
        abortCsrf: csrf.token(i.uid, 'abort'),
      },
      extra.status,
    );
  }

  /** A refused addition, for the audit log (never with the response or a secret in it). */
  async function recordRefusal(
    ctx: Koa.Context,
    i: PendingInteraction,
    s: LoginState,
    method: string,
    reason: 'weaker_sign_in' | 'already_registered',
  ) {
    await deps.record({
      actor: { type: 'user', id: s.progress.userId },
      action: 'mfa.change_refused',
      target: { type: 'user', id: s.progress.userId },
      outcome: 'failure',
      ...requestOrigin(ctx),
      details: {
        change: 'add',
        method,
        during: 'login',
        reason,
        ...(reason === 'weaker_sign_in'
          ? { level: s.progress.level, required: s.factors.strongest }
          : {}),
        client: i.client.clientId,
      },
    });
  }

  async function refuse(ctx: Koa.Context, i: PendingInteraction, s: LoginState, method: string) {
    await recordRefusal(ctx, i, s, method, 'weaker_sign_in');
    renderPage(ctx, views, 'error', { title: 'enrol.notAllowed', message: STRONGEST_FIRST }, 403);
  }

  /**
   * A factor was added. It does not count as used: the login goes on to ask for a factor that
   * reaches the level it needs (the new one among them). The first factor brings recovery codes.
   */
  async function enrolled(
    ctx: Koa.Context,
    i: PendingInteraction,
    s: LoginState,
    method: 'totp' | 'webauthn',
    addressPoints: number,
  ) {
    await deps.record({
      actor: { type: 'user', id: s.progress.userId },
      action: 'mfa.enrolled',
      target: { type: 'user', id: s.progress.userId },
      outcome: 'success',
      ...requestOrigin(ctx),
      details: { method, during: 'login', client: i.client.clientId },
    });
    const p = {
      ...s.progress,
      addressPoints: (s.progress.addressPoints ?? 0) + addressPoints,
    };
    await progress.save(i.uid, p);
    if (s.factors.hasSecondFactor) {
      const now = (await flow.state(i))!;
      return flow.next(ctx, i, now, { notice: useIt(method) });
    }
    const codes = await recoveryCodes.regenerate(s.progress.userId);
    renderPage(ctx, views, 'recovery-codes', {
      codes,
      action: `/interaction/${i.uid}/continue`,
      csrf: csrf.token(i.uid, 'enrol'),
      enrolled: method,
    });
  }

  return {
    page,

    async submitTotp(ctx: Koa.Context): Promise<void> {
      const { form, i, s } = await flow.load(ctx, 'enrol');
      if (!s) return seeOther(ctx, `/interaction/${i.uid}`);
      if (!mayEnrol(s)) return refuse(ctx, i, s, 'totp');
      // A wrong code counts like any second-factor attempt.
      if (!(await flow.claim(ctx, i, s, 'totp_enrolment'))) return;
      if (await totp.confirmEnrolment(s.progress.userId, form.enrolment ?? '', form.code ?? '')) {
        await deps.authenticator.factorSucceeded(s.progress.userId);
        return enrolled(ctx, i, s, 'totp', 1);
      }
      return page(
        ctx,
        i,
        s,
        {
          error: 'enrol.error.wrongCode',
          status: 400,
        },
        form.enrolment,
      );
    },

    async webauthnOptions(ctx: Koa.Context): Promise<void> {
      const { i, s } = await flow.load(ctx, 'enrol');
      if (!s) return jsonError(ctx, 400, 'invalid_request', say(ctx, 'enrol.error.passwordFirst'));
      if (!mayEnrol(s)) {
        await recordRefusal(ctx, i, s, 'webauthn', 'weaker_sign_in');
        return jsonError(ctx, 403, 'access_denied', say(ctx, STRONGEST_FIRST));
      }
      const user = (await accounts.get(s.progress.userId))!;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await webauthn.registrationOptions(user, i.uid);
    },

    async submitWebauthn(ctx: Koa.Context): Promise<void> {
      const { form, i, s } = await flow.load(ctx, 'enrol');
      if (!s) return seeOther(ctx, `/interaction/${i.uid}`);
      if (!mayEnrol(s)) return refuse(ctx, i, s, 'webauthn');
      try {
        await webauthn.register(
          s.progress.userId,
          i.uid,
          parseWebAuthnResponse(form.response),
          form.name ?? '',
        );
      } catch (err) {
        if (err instanceof CredentialExistsError) {
          await recordRefusal(ctx, i, s, 'webauthn', 'already_registered');
          return page(ctx, i, s, { error: 'webauthn.error.exists', status: 409 });
        }
        // Domain errors are written for people (a missing name); unknown errors are not shown.
        if (err instanceof DomainError)
          return page(ctx, i, s, { error: domainMessage(err), status: 400 });
        if (err instanceof WebAuthnError) {
          return page(ctx, i, s, {
            error: 'webauthn.error.register',
            status: 400,
          });
        }
        throw err;
      }
      return enrolled(ctx, i, s, 'webauthn', 0);
    },

    /** After the recovery codes were shown: on to use the new factor. */
    async continue(ctx: Koa.Context): Promise<void> {
      const { form, i, s } = await flow.load(ctx, 'enrol');
      if (!s) return seeOther(ctx, `/interaction/${i.uid}`);
      return flow.next(ctx, i, s, { notice: useIt(form.enrolled) });
    },
  };
}

export type EnrolmentSteps = ReturnType<typeof enrolmentSteps>;
