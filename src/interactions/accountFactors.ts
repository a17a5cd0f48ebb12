// Managing second factors from the account page: add an authenticator app or a security key /
// passkey, remove one, regenerate recovery codes. Every change needs a recent sign-in: within
// FACTOR_CHANGE_MAX_AGE_SECONDS, and at level 2 or more once the person has a second factor.
import type Koa from 'koa';
import type { AuditAction } from '../audit/kinds.ts';
import { DomainError } from '../errors.ts';
import { WebAuthnError } from '../mfa/webauthn.ts';
import type { BrowserSession } from '../oidc/bridge.ts';
import {
  CsrfError,
  type InteractionDeps,
  jsonError,
  renderPage,
  requestOrigin,
  seeOther,
} from './context.ts';
import { readForm } from './forms.ts';

const PURPOSE = 'account-factors';

export function accountFactorPages(
  deps: InteractionDeps,
  startLogin: (ctx: Koa.Context, extra: Record<string, string>) => void,
) {
  const {
    views,
    csrf,
    bridge,
    accounts,
    factors,
    totp,
    webauthn,
    recoveryCodes,
    assurance,
    config,
    clock,
  } = deps;

  /** True when the session may change factors now. */
  async function recent(session: BrowserSession): Promise<boolean> {
    const age = Math.floor(clock.now() / 1000) - (session.loginTs ?? 0);
    if (age > config.mfa.changeMaxAgeSeconds) return false;
    const { hasSecondFactor } = await factors.summary(session.accountId);
    return !hasSecondFactor || assurance.levelOf(session.acr) >= 2;
  }

  /** The signed-in session, with the CSRF token of the form checked (for posts). */
  async function session(
    ctx: Koa.Context,
    form?: Record<string, string>,
  ): Promise<BrowserSession | undefined> {
    const s = await bridge.session(ctx);
    if (!s) {
      seeOther(ctx, '/account');
      return undefined;
    }
    if (form && !csrf.verify(s.uid, PURPOSE, form._csrf)) throw new CsrfError();
    if (!(await recent(s))) {
      seeOther(ctx, '/account?notice=reauth');
      return undefined;
    }
    return s;
  }

  async function record(
    ctx: Koa.Context,
    s: BrowserSession,
    action: AuditAction,
    details: Record<string, unknown>,
  ) {
    await deps.record({
      actor: { type: 'user', id: s.accountId },
      action,
      target: { type: 'user', id: s.accountId },
      outcome: 'success',
      ...requestOrigin(ctx),
      details,
    });
  }

  /** After the first factor: ten recovery codes, shown once. */
  async function afterAdding(
    ctx: Koa.Context,
    s: BrowserSession,
    hadFactor: boolean,
  ): Promise<void> {
    if (hadFactor) return seeOther(ctx, '/account?notice=factor-added');
    const codes = await recoveryCodes.regenerate(s.accountId);
    renderPage(ctx, views, 'recovery-codes', { codes, action: '/account', csrf: '' });
  }

  async function enrolPage(
    ctx: Koa.Context,
    s: BrowserSession,
    extra: { error?: string; status?: number; enrolmentId?: string; totp: boolean },
  ) {
    const user = (await accounts.get(s.accountId))!;
    const pending = extra.totp
      ? ((extra.enrolmentId ? await totp.pendingEnrolment(user, extra.enrolmentId) : undefined) ??
        (await totp.startEnrolment(user)))
      : undefined;
    renderPage(
      ctx,
      views,
      'enrol',
      {
        reason: extra.totp
          ? 'Add an authenticator app to your account.'
          : 'Add a security key or passkey to your account.',
        error: extra.error,
        totp: pending ? { ...pending, action: '/account/totp' } : undefined,
        webauthnAction: '/account/webauthn',
        csrf: csrf.token(s.uid, PURPOSE),
      },
      extra.status,
    );
  }

  return {
    /** Data for the factors section of the account page. */
    async view(s: BrowserSession) {
      const summary = await factors.summary(s.accountId);
      return { ...summary, canChange: await recent(s), csrf: csrf.token(s.uid, PURPOSE) };
    },

    /** Signs in again (password, and the second factor when there is one), then back to /account. */
    async reauth(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const s = await bridge.session(ctx);
      if (!s || !csrf.verify(s.uid, PURPOSE, form._csrf)) throw new CsrfError();
      const { hasSecondFactor } = await factors.summary(s.accountId);
      startLogin(ctx, {
        prompt: 'login',
        max_age: '0',
        ...(hasSecondFactor ? { acr_values: assurance.acrFor(2) } : {}),
      });
    },

    async totpPage(ctx: Koa.Context): Promise<void> {
      const s = await session(ctx);
      if (s) await enrolPage(ctx, s, { totp: true });
    },

    async addTotp(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const s = await session(ctx, form);
      if (!s) return;
      const hadFactor = (await factors.summary(s.accountId)).hasSecondFactor;
      if (!(await totp.confirmEnrolment(s.accountId, form.enrolment ?? '', form.code ?? ''))) {
        return enrolPage(ctx, s, {
          totp: true,
          enrolmentId: form.enrolment,
          status: 400,
          error: 'That code is not right. Try the next code.',
        });
      }
      await record(ctx, s, 'mfa.enrolled', { method: 'totp', during: 'account' });
      await afterAdding(ctx, s, hadFactor);
    },

    async removeTotp(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const s = await session(ctx, form);
      if (!s) return;
      await factors.assertRemovable(s.accountId, 'totp');
      if (await totp.remove(s.accountId)) await record(ctx, s, 'mfa.removed', { method: 'totp' });
      await factors.afterRemoval(s.accountId);
      seeOther(ctx, '/account?notice=factor-removed');
    },

    async webauthnPage(ctx: Koa.Context): Promise<void> {
      const s = await session(ctx);
      if (s) await enrolPage(ctx, s, { totp: false });
    },

    async webauthnOptions(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const s = await bridge.session(ctx);
      if (!s || !csrf.verify(s.uid, PURPOSE, form._csrf))
        return jsonError(ctx, 403, 'invalid_request', 'This page has expired: reload it.');
      if (!(await recent(s)))
        return jsonError(ctx, 403, 'login_required', 'Sign in again to change how you sign in.');
      const user = (await accounts.get(s.accountId))!;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await webauthn.registrationOptions(user, s.uid);
    },

    async addWebauthn(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const s = await session(ctx, form);
      if (!s) return;
      const hadFactor = (await factors.summary(s.accountId)).hasSecondFactor;
      try {
        const credential = await webauthn.register(
          s.accountId,
          s.uid,
          JSON.parse(form.response ?? 'null'),
          form.name ?? '',
        );
        await record(ctx, s, 'mfa.enrolled', {
          method: 'webauthn',
          name: credential.name,
          during: 'account',
        });
      } catch (err) {
        if (err instanceof DomainError)
          return enrolPage(ctx, s, { totp: false, status: 400, error: err.message });
        if (err instanceof WebAuthnError) {
          return enrolPage(ctx, s, {
            totp: false,
            status: 400,
            error: 'The key could not be registered. Try again.',
          });
        }
        throw err;
      }
      await afterAdding(ctx, s, hadFactor);
    },

    async removeWebauthn(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const s = await session(ctx, form);
      if (!s) return;
      await factors.assertRemovable(s.accountId, 'webauthn');
      if (await webauthn.remove(s.accountId, String(ctx.params.id)))
        await record(ctx, s, 'mfa.removed', { method: 'webauthn', credential: ctx.params.id });
      await factors.afterRemoval(s.accountId);
      seeOther(ctx, '/account?notice=factor-removed');
    },

    async regenerateRecoveryCodes(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const s = await session(ctx, form);
      if (!s) return;
      if (!(await factors.summary(s.accountId)).hasSecondFactor) return seeOther(ctx, '/account');
      const codes = await recoveryCodes.regenerate(s.accountId);
      await record(ctx, s, 'recovery_codes.regenerated', {});
      renderPage(ctx, views, 'recovery-codes', { codes, action: '/account', csrf: '' });
    },
  };
}
