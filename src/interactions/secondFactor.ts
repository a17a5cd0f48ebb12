// The steps of a login after the password (or, for a step-up, after an existing session): ask
// for the factor the request's assurance level needs, enrol one when the person has none, and
// finish the login with the acr and amr actually reached. Every factor attempt counts against the
// account's second-factor lockout and the source address until the sign-in completes.
import type Koa from 'koa';
import type { FactorAttempt } from '../accounts/authenticate.ts';
import type { StatementPart } from '../db/together.ts';
import type { Message } from '../i18n/translator.ts';
import type { Level } from '../mfa/assurance.ts';
import type { FactorSummary } from '../mfa/factors.ts';
import type { Progress } from '../mfa/loginProgress.ts';
import { reportedAcr } from '../mfa/policy.ts';
import type { TotpRow } from '../mfa/totp.ts';
import { parseWebAuthnResponse, WebAuthnError, webauthnAmr } from '../mfa/webauthn.ts';
import type { PendingInteraction } from '../oidc/bridge.ts';
import {
  CsrfError,
  type InteractionDeps,
  jsonError,
  renderPage,
  requestOrigin,
  type SecurityEvent,
  seeOther,
} from './context.ts';
import { enrolmentSteps } from './enrolment.ts';
import { readForm } from './forms.ts';
import { networkLimitMessage } from './login.ts';

export interface LoginState {
  progress: Progress;
  target: Level;
  factors: FactorSummary;
}

const TOO_MANY = 'secondFactor.error.tooMany';

/** What a page after a step shows: an error, or a notice (e.g. after enrolling a factor). */
export interface StepMessage {
  /** Catalogue keys or messages (src/i18n/). */
  error?: Message;
  notice?: Message;
  status?: number;
}

/**
 * A factor attempt that may be checked, with the lock it set if it turns out wrong (and the row
 * of the lookup read in its statement).
 */
type Claimed<Read = never> = Extract<FactorAttempt<Read>, { ok: true }>;

/**
 * The factors a login page offers: only those that reach the level the request needs. An app
 * code or a recovery code (level 2) is offered for level 3 only to someone with no key yet who
 * must first confirm with their strongest factor before adding one (enrolment.ts).
 */
export function offerFor({ progress: p, target, factors: f }: LoginState) {
  const hasKey = f.credentials.length > 0;
  const codesReach = target <= 2 || (!hasKey && p.level < f.strongest);
  const belowTwo = p.level < 2;
  return {
    totp: belowTwo && codesReach && f.totp,
    recovery: belowTwo && codesReach && f.recoveryCodesLeft > 0 && f.hasSecondFactor,
    webauthn: hasKey,
    /** Level 3 is needed and the person has no key: the page says how to add one. */
    addKeyFirst: target >= 3 && !hasKey,
  };
}

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

  /**
   * Where this login stands: who has proven what, and what it must reach. The target is the level
   * this request needs (REQUIRE_MFA makes that 2 for everyone). A person with a second factor
   * signing in for a level-1 request is not asked for it: when a stronger scope comes, they step
   * up with the factor alone.
   */
  async function state(i: PendingInteraction): Promise<LoginState | undefined> {
    // The progress and the person's factors, in one statement.
    const found = await progress.getWithFactors(i.uid);
    if (found) return { ...found, target: i.assurance.required };
    let p: Progress | undefined;
    // A step-up continues the session's sign-in, unless the account was locked or disabled since.
    if (isStepUp(i) && (await accounts.get(i.session!.accountId))?.status === 'active') {
      p = {
        userId: i.session!.accountId,
        amr: i.session!.amr ?? [],
        level: assurance.levelOf(i.session!.acr),
        addressPoints: 0,
      };
      await progress.save(i.uid, p);
    }
    if (!p) return undefined;
    return { progress: p, target: i.assurance.required, factors: await factors.summary(p.userId) };
  }

  /**
   * Completes the login. Its writes (and `before`: the last step's writes and events, which
   * would otherwise be a statement each) and its audit events go in one statement.
   */
  async function finish(
    ctx: Koa.Context,
    i: PendingInteraction,
    p: Progress,
    before: { writes?: StatementPart[]; events?: SecurityEvent[] } = {},
  ): Promise<void> {
    const level = Math.max(1, p.level) as Level;
    const amr = [...new Set([...p.amr, ...(level >= 2 ? ['mfa'] : [])])];
    // Only now do the steps stop counting: the address gets its points back, and a sign-in that
    // proved a second factor clears the second-factor count.
    const completed = authenticator.completedParts({
      userId: p.userId,
      ip: ctx.ip,
      addressPoints: p.addressPoints ?? 0,
      level,
    });
    await deps.record.with(
      [
        ...(before.events ?? []),
        {
          actor: { type: 'user', id: p.userId },
          action: 'login.success',
          target: { type: 'user', id: p.userId },
          outcome: 'success',
          ...requestOrigin(ctx),
          details: { client: i.client.clientId, level, amr, stepUp: isStepUp(i) },
        },
      ],
      [...(before.writes ?? []), progress.clearPart(i.uid), ...completed],
    );
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
    extra: StepMessage = {},
  ) {
    const { progress: p, target } = s;
    if (p.level >= target) return finish(ctx, i, p);
    const user = await accounts.get(p.userId);
    const offer = offerFor(s);
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
          // Why only some factors are offered: the request needs a passkey or security key.
          needsKey: target >= 3,
          error: extra.error,
          notice: extra.notice,
          ...offer,
          csrf: csrf.token(i.uid, 'factor'),
          abortCsrf: csrf.token(i.uid, 'abort'),
        },
        extra.status,
      );
    }
    return enrol.page(ctx, i, s, extra);
  }

  /**
   * Counts a factor attempt against the source address and the account's second-factor lockout
   * before it is checked; undefined (and the page again, with why) when it may not be made now.
   * `read` (what the attempt checks) is read in the same statement, only when it may be made.
   */
  async function claim<Read extends { id: string } = never>(
    ctx: Koa.Context,
    i: PendingInteraction,
    s: LoginState,
    method: string,
    read?: StatementPart,
  ): Promise<Claimed<Read> | undefined> {
    const attempt = await authenticator.claimFactorAttempt<Read>(s.progress.userId, ctx.ip, read);
    if (attempt.ok) return attempt;
    const origin = requestOrigin(ctx);
    if (attempt.reason === 'rate_limited') {
      await deps.record({
        actor: { type: 'system' },
        action: 'login.rate_limited',
        outcome: 'failure',
        ...origin,
        details: { client: i.client.clientId, method },
      });
      ctx.set('Retry-After', String(attempt.retryAfterSeconds));
      await next(ctx, i, s, { error: networkLimitMessage(attempt.retryAfterSeconds), status: 429 });
      return undefined;
    }
    await deps.record({
      actor: { type: 'user', id: s.progress.userId },
      action: 'mfa.failure',
      target: { type: 'user', id: s.progress.userId },
      outcome: 'failure',
      ...origin,
      details: { method, reason: 'account_locked', client: i.client.clientId },
    });
    await next(ctx, i, s, { error: TOO_MANY, status: 429 });
    return undefined;
  }

  async function failed(
    ctx: Koa.Context,
    i: PendingInteraction,
    s: LoginState,
    attempt: Pick<Claimed, 'lockedUntil'>,
    method: string,
    reason: string,
    message: Message,
  ) {
    const origin = requestOrigin(ctx);
    await deps.record({
      actor: { type: 'user', id: s.progress.userId },
      action: 'mfa.failure',
      target: { type: 'user', id: s.progress.userId },
      outcome: 'failure',
      ...origin,
      details: { method, reason, client: i.client.clientId },
    });
    if (attempt.lockedUntil) {
      await deps.record({
        actor: { type: 'system' },
        action: 'account.locked',
        target: { type: 'user', id: s.progress.userId },
        outcome: 'success',
        ...origin,
        details: { until: attempt.lockedUntil.toISOString(), reason: 'wrong_second_factors' },
      });
    }
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
    const used: SecurityEvent = {
      actor: { type: 'user', id: s.progress.userId },
      action: method === 'recovery_code' ? 'recovery_code.used' : 'mfa.used',
      target: { type: 'user', id: s.progress.userId },
      outcome: 'success',
      ...requestOrigin(ctx),
      details: { method, client: i.client.clientId },
    };
    const p = {
      ...s.progress,
      level: Math.max(s.progress.level, level) as Level,
      amr: [...s.progress.amr, ...amr],
      addressPoints: (s.progress.addressPoints ?? 0) + 1,
    };
    // The factor completes the login: its event rides in the completing statement, which clears
    // the second-factor count (level 2 or more), so withdrawing this attempt first is moot.
    if (p.level >= s.target) return finish(ctx, i, p, { events: [used] });
    await authenticator.factorSucceeded(s.progress.userId);
    await deps.record(used);
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

  const enrol = enrolmentSteps(deps, { state, next, load, claim });

  return {
    state,
    next,
    finish,
    enrol,

    async submitTotp(ctx: Koa.Context): Promise<void> {
      const { form, i, s } = await load(ctx, 'factor');
      if (!s) return restart(ctx);
      const { userId } = s.progress;
      // The authenticator is read in the claim's statement; its step is claimed on its own.
      const attempt = await claim<TotpRow>(ctx, i, s, 'totp', totp.lookupPart(userId));
      if (!attempt) return;
      const result = await totp.verifyWith(userId, attempt.read, form.code ?? '');
      if (result === 'ok') return proven(ctx, i, s, 'totp', 2, ['otp']);
      const message =
        result === 'replayed' ? 'secondFactor.error.replayed' : 'secondFactor.error.wrongCode';
      return failed(ctx, i, s, attempt, 'totp', result, message);
    },

    async submitRecoveryCode(ctx: Koa.Context): Promise<void> {
      const { form, i, s } = await load(ctx, 'factor');
      if (!s) return restart(ctx);
      const attempt = await claim(ctx, i, s, 'recovery_code');
      if (!attempt) return;
      if (await recoveryCodes.use(s.progress.userId, form.code ?? ''))
        return proven(ctx, i, s, 'recovery_code', 2, ['otp']);
      return failed(
        ctx,
        i,
        s,
        attempt,
        'recovery_code',
        'invalid',
        'secondFactor.error.wrongRecoveryCode',
      );
    },

    async webauthnOptions(ctx: Koa.Context): Promise<void> {
      const { i, s } = await load(ctx, 'factor');
      if (!s)
        return jsonError(
          ctx,
          400,
          'invalid_request',
          views.translatorFor(ctx).t('enrol.error.passwordFirst'),
        );
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await webauthn.authenticationOptions(i.uid, s.progress.userId);
    },

    async submitWebauthn(ctx: Koa.Context): Promise<void> {
      const { form, i, s } = await load(ctx, 'factor');
      if (!s) return restart(ctx);
      const attempt = await claim(ctx, i, s, 'webauthn');
      if (!attempt) return;
      let done: Awaited<ReturnType<typeof webauthn.authenticate>>;
      try {
        done = await webauthn.authenticate(
          i.uid,
          parseWebAuthnResponse(form.response),
          s.progress.userId,
        );
      } catch (err) {
        // Unknown errors go to the generic error handling; only a failed ceremony is shown here.
        if (!(err instanceof WebAuthnError)) throw err;
        const reason = err.reason;
        if (reason === 'counter_rollback')
          deps.logger.warn(
            { user: s.progress.userId },
            'WebAuthn signature counter went backwards: possible cloned authenticator',
          );
        return failed(ctx, i, s, attempt, 'webauthn', reason, 'webauthn.error.verify');
      }
      return proven(ctx, i, s, 'webauthn', 3, webauthnAmr(done));
    },
  };
}

/** The login's state is gone (expired): start the step again from its page. */
const restart = (ctx: Koa.Context) => seeOther(ctx, `/interaction/${ctx.params.uid}`);

export type SecondFactorSteps = ReturnType<typeof secondFactorSteps>;
