// The steps of a login after the password (or, for a step-up, after an existing session): ask
// for the factor the request's assurance level needs, enrol one when the person has none, and
// finish the login with the acr and amr actually reached.
import type Koa from 'koa';
import type { Level } from '../mfa/assurance.ts';
import type { FactorSummary } from '../mfa/factors.ts';
import type { Progress } from '../mfa/loginProgress.ts';
import { reportedAcr } from '../mfa/policy.ts';
import { WebAuthnError, webauthnAmr } from '../mfa/webauthn.ts';
import type { PendingInteraction } from '../oidc/bridge.ts';
import {
  CsrfError,
  type InteractionDeps,
  jsonError,
  renderPage,
  requestOrigin,
  seeOther,
} from './context.ts';
import { enrolmentSteps } from './enrolment.ts';
import { readForm } from './forms.ts';

export interface LoginState {
  progress: Progress;
  target: Level;
  factors: FactorSummary;
}

const TOO_MANY = 'Too many attempts. Wait a while and try again.';

/** Only the assurance check asked for this login: the session stands, a factor is missing. */
export const isStepUp = (i: PendingInteraction) =>
  i.session !== undefined &&
  i.prompt.reasons.length > 0 &&
  i.prompt.reasons.every((r) => r === 'assurance_insufficient');

export function secondFactorSteps(deps: InteractionDeps) {
  const {
    views,
    csrf,
    bridge,
    accounts,
    factors,
    totp,
    webauthn,
    recoveryCodes,
    progress,
    assurance,
    authenticator,
  } = deps;

  /** Where this login stands: who has proven what, and what it must reach. */
  async function state(i: PendingInteraction): Promise<LoginState | undefined> {
    let p = await progress.get(i.uid);
    // A step-up continues the session's sign-in, unless the account was locked or disabled since.
    if (!p && isStepUp(i) && (await accounts.get(i.session!.accountId))?.status === 'active') {
      p = {
        userId: i.session!.accountId,
        amr: i.session!.amr ?? [],
        level: assurance.levelOf(i.session!.acr),
      };
      await progress.save(i.uid, p);
    }
    if (!p) return undefined;
    // The level this request needs (REQUIRE_MFA makes that 2 for everyone). A person with a
    // second factor signing in for a level-1 request is not asked for it: when a stronger
    // scope comes, they step up with the factor alone.
    return { progress: p, target: i.assurance.required, factors: await factors.summary(p.userId) };
  }

  async function finish(ctx: Koa.Context, i: PendingInteraction, p: Progress): Promise<void> {
    const level = Math.max(1, p.level) as Level;
    const amr = [...new Set([...p.amr, ...(level >= 2 ? ['mfa'] : [])])];
    await progress.clear(i.uid);
    await deps.record({
      actor: { type: 'user', id: p.userId },
      action: 'login.success',
      target: { type: 'user', id: p.userId },
      outcome: 'success',
      ...requestOrigin(ctx),
      details: { client: i.client.clientId, level, amr, stepUp: isStepUp(i) },
    });
    await bridge.finishLogin(ctx, {
      accountId: p.userId,
      acr: reportedAcr(assurance, level, i.assurance.essentialAcrs),
      amr,
      // The sign-in time from the injected clock, like every other time Portcullis decides on.
      ts: Math.floor(deps.clock.now() / 1000),
    });
  }

  /** Shows what the login needs next, or finishes it. */
  async function next(
    ctx: Koa.Context,
    i: PendingInteraction,
    s: LoginState,
    extra: { error?: string; status?: number } = {},
  ) {
    const { progress: p, target, factors: f } = s;
    if (p.level >= target) return finish(ctx, i, p);
    const user = await accounts.get(p.userId);
    const belowTwo = p.level < 2;
    const offer = {
      totp: belowTwo && f.totp,
      recovery: belowTwo && f.recoveryCodesLeft > 0 && f.hasSecondFactor,
      webauthn: f.credentials.length > 0,
    };
    if (offer.totp || offer.recovery || offer.webauthn) {
      return renderPage(
        ctx,
        views,
        'second-factor',
        {
          uid: i.uid,
          email: user?.email ?? '',
          clientName: i.client.name,
          stepUp: isStepUp(i),
          error: extra.error,
          ...offer,
          csrf: csrf.token(i.uid, 'factor'),
          abortCsrf: csrf.token(i.uid, 'abort'),
        },
        extra.status,
      );
    }
    return enrol.page(ctx, i, s, extra);
  }

  /** Counts the attempt against the account lockout; false (and an error page) when locked. */
  async function claim(ctx: Koa.Context, i: PendingInteraction, s: LoginState): Promise<boolean> {
    if (await authenticator.claimAttempt(s.progress.userId)) return true;
    await next(ctx, i, s, { error: TOO_MANY, status: 429 });
    return false;
  }

  async function failed(
    ctx: Koa.Context,
    i: PendingInteraction,
    s: LoginState,
    method: string,
    reason: string,
    message: string,
  ) {
    await deps.record({
      actor: { type: 'user', id: s.progress.userId },
      action: 'mfa.failure',
      target: { type: 'user', id: s.progress.userId },
      outcome: 'failure',
      ...requestOrigin(ctx),
      details: { method, reason, client: i.client.clientId },
    });
    await next(ctx, i, s, { error: message, status: 401 });
  }

  async function proven(
    ctx: Koa.Context,
    i: PendingInteraction,
    s: LoginState,
    method: string,
    level: Level,
    amr: string[],
  ) {
    await authenticator.succeeded(s.progress.userId);
    await deps.record({
      actor: { type: 'user', id: s.progress.userId },
      action: method === 'recovery_code' ? 'recovery_code.used' : 'mfa.used',
      target: { type: 'user', id: s.progress.userId },
      outcome: 'success',
      ...requestOrigin(ctx),
      details: { method, client: i.client.clientId },
    });
    const p = {
      ...s.progress,
      level: Math.max(s.progress.level, level) as Level,
      amr: [...s.progress.amr, ...amr],
    };
    await progress.save(i.uid, p);
    await next(ctx, i, { ...s, progress: p });
  }

  /** The interaction, its state, and the form, with the CSRF token checked. */
  async function load(ctx: Koa.Context, purpose: string) {
    const form = await readForm(ctx);
    const i = await bridge.details(ctx);
    if (!csrf.verify(i.uid, purpose, form._csrf)) throw new CsrfError();
    const s = await state(i);
    return { form, i, s };
  }

  const enrol = enrolmentSteps(deps, { next, load, claim });

  return {
    state,
    next,
    finish,
    enrol,

    async submitTotp(ctx: Koa.Context): Promise<void> {
      const { form, i, s } = await load(ctx, 'factor');
      if (!s) return restart(ctx);
      if (!(await claim(ctx, i, s))) return;
      const result = await totp.verify(s.progress.userId, form.code ?? '');
      if (result === 'ok') return proven(ctx, i, s, 'totp', 2, ['otp']);
      const message =
        result === 'replayed'
          ? 'That code was already used. Wait for the next one.'
          : 'That code is not right. Try again.';
      return failed(ctx, i, s, 'totp', result, message);
    },

    async submitRecoveryCode(ctx: Koa.Context): Promise<void> {
      const { form, i, s } = await load(ctx, 'factor');
      if (!s) return restart(ctx);
      if (!(await claim(ctx, i, s))) return;
      if (await recoveryCodes.use(s.progress.userId, form.code ?? ''))
        return proven(ctx, i, s, 'recovery_code', 2, ['otp']);
      return failed(
        ctx,
        i,
        s,
        'recovery_code',
        'invalid',
        'That recovery code is not right, or was already used.',
      );
    },

    async webauthnOptions(ctx: Koa.Context): Promise<void> {
      const { i, s } = await load(ctx, 'factor');
      if (!s) return jsonError(ctx, 400, 'invalid_request', 'Sign in with your password first.');
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await webauthn.authenticationOptions(i.uid, s.progress.userId);
    },

    async submitWebauthn(ctx: Koa.Context): Promise<void> {
      const { form, i, s } = await load(ctx, 'factor');
      if (!s) return restart(ctx);
      if (!(await claim(ctx, i, s))) return;
      try {
        const done = await webauthn.authenticate(
          i.uid,
          JSON.parse(form.response ?? 'null'),
          s.progress.userId,
        );
        return proven(ctx, i, s, 'webauthn', 3, webauthnAmr(done));
      } catch (err) {
        const reason = err instanceof WebAuthnError ? err.reason : 'verification';
        if (reason === 'counter_rollback')
          deps.logger.warn(
            { user: s.progress.userId },
            'WebAuthn signature counter went backwards: possible cloned authenticator',
          );
        return failed(
          ctx,
          i,
          s,
          'webauthn',
          reason,
          'The security key or passkey could not be verified. Try again.',
        );
      }
    },
  };
}

/** The login's state is gone (expired): start the step again from its page. */
const restart = (ctx: Koa.Context) => seeOther(ctx, `/interaction/${ctx.params.uid}`);

export type SecondFactorSteps = ReturnType<typeof secondFactorSteps>;
