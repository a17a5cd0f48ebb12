// Enrolling a second factor inside a login, when the level the request needs is out of the
// person's reach: an authenticator app (QR code and key, confirmed by one code) or a security
// key / passkey. After the first factor, ten recovery codes are shown once.
import type Koa from 'koa';
import type { Level } from '../mfa/assurance.ts';
import { WebAuthnError, webauthnAmr } from '../mfa/webauthn.ts';
import type { PendingInteraction } from '../oidc/bridge.ts';
import { type InteractionDeps, jsonError, renderPage, requestOrigin, seeOther } from './context.ts';
import type { LoginState } from './secondFactor.ts';

interface Flow {
  next(
    ctx: Koa.Context,
    i: PendingInteraction,
    s: LoginState,
    extra?: { error?: string; status?: number },
  ): Promise<void>;
  load(
    ctx: Koa.Context,
    purpose: string,
  ): Promise<{ form: Record<string, string>; i: PendingInteraction; s: LoginState | undefined }>;
  claim(ctx: Koa.Context, i: PendingInteraction, s: LoginState): Promise<boolean>;
}

/** Adding a factor is only for someone with none yet, or who has just proven the one they have. */
const mayEnrol = (s: LoginState) => !s.factors.hasSecondFactor || s.progress.level >= 2;

export function enrolmentSteps(deps: InteractionDeps, flow: Flow) {
  const { views, csrf, accounts, totp, webauthn, recoveryCodes, progress } = deps;

  async function page(
    ctx: Koa.Context,
    i: PendingInteraction,
    s: LoginState,
    extra: { error?: string; status?: number } = {},
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
        reason:
          s.target >= 3
            ? `${i.client.name} needs a phishing-resistant sign-in: add a security key or passkey to continue.`
            : `${i.client.name} needs a second factor: add one to continue.`,
        error: extra.error,
        totp: pending ? { ...pending, action: `/interaction/${i.uid}/enrol/totp` } : undefined,
        webauthnAction: `/interaction/${i.uid}/enrol/webauthn`,
        csrf: csrf.token(i.uid, 'enrol'),
        abortCsrf: csrf.token(i.uid, 'abort'),
      },
      extra.status,
    );
  }

  /** A factor was added: it counts as used for this login; the first one brings recovery codes. */
  async function enrolled(
    ctx: Koa.Context,
    i: PendingInteraction,
    s: LoginState,
    method: string,
    level: Level,
    amr: string[],
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
      level: Math.max(s.progress.level, level) as Level,
      amr: [...s.progress.amr, ...amr],
    };
    await progress.save(i.uid, p);
    if (s.factors.hasSecondFactor) return flow.next(ctx, i, { ...s, progress: p });
    const codes = await recoveryCodes.regenerate(s.progress.userId);
    renderPage(ctx, views, 'recovery-codes', {
      codes,
      action: `/interaction/${i.uid}/continue`,
      csrf: csrf.token(i.uid, 'enrol'),
    });
  }

  function refuse(ctx: Koa.Context): void {
    renderPage(
      ctx,
      views,
      'error',
      {
        title: 'Not allowed',
        message: 'Confirm the second factor you have before adding another.',
      },
      403,
    );
  }

  return {
    page,

    async submitTotp(ctx: Koa.Context): Promise<void> {
      const { form, i, s } = await flow.load(ctx, 'enrol');
      if (!s) return seeOther(ctx, `/interaction/${i.uid}`);
      if (!mayEnrol(s)) return refuse(ctx);
      if (!(await flow.claim(ctx, i, s))) return;
      if (await totp.confirmEnrolment(s.progress.userId, form.enrolment ?? '', form.code ?? '')) {
        await deps.authenticator.succeeded(s.progress.userId);
        return enrolled(ctx, i, s, 'totp', 2, ['otp']);
      }
      return page(
        ctx,
        i,
        s,
        {
          error: 'That code is not right. Check the time on your phone and try the next code.',
          status: 400,
        },
        form.enrolment,
      );
    },

    async webauthnOptions(ctx: Koa.Context): Promise<void> {
      const { i, s } = await flow.load(ctx, 'enrol');
      if (!s || !mayEnrol(s))
        return jsonError(
          ctx,
          403,
          'access_denied',
          'Confirm the second factor you have before adding another.',
        );
      const user = (await accounts.get(s.progress.userId))!;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await webauthn.registrationOptions(user, i.uid);
    },

    async submitWebauthn(ctx: Koa.Context): Promise<void> {
      const { form, i, s } = await flow.load(ctx, 'enrol');
      if (!s) return seeOther(ctx, `/interaction/${i.uid}`);
      if (!mayEnrol(s)) return refuse(ctx);
      try {
        const credential = await webauthn.register(
          s.progress.userId,
          i.uid,
          JSON.parse(form.response ?? 'null'),
          form.name ?? '',
        );
        const amr = webauthnAmr({ userId: s.progress.userId, credential, userVerified: false });
        return enrolled(ctx, i, s, 'webauthn', 3, amr);
      } catch (err) {
        const message =
          err instanceof WebAuthnError
            ? 'The security key or passkey could not be registered. Try again.'
            : (err as Error).message;
        return page(ctx, i, s, { error: message, status: 400 });
      }
    },

    /** After the recovery codes were shown. */
    async continue(ctx: Koa.Context): Promise<void> {
      const { i, s } = await flow.load(ctx, 'enrol');
      if (!s) return seeOther(ctx, `/interaction/${i.uid}`);
      return flow.next(ctx, i, s);
    },
  };
}

export type EnrolmentSteps = ReturnType<typeof enrolmentSteps>;
