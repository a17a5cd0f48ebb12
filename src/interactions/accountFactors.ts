// Managing second factors from the account page: add an authenticator app or a security key /
// passkey, remove one, regenerate recovery codes. Every change needs a recent sign-in (within
// FACTOR_CHANGE_MAX_AGE_SECONDS) with the strongest factor the person holds: a passkey holder
// signed in with an app code may not add or remove anything (NIST SP 800-63B 6.1.2.1).
import type Koa from 'koa';
import type { AuditAction } from '../audit/kinds.ts';
import { DomainError } from '../errors.ts';
import type { Message } from '../i18n/translator.ts';
import { CredentialExistsError, parseWebAuthnResponse, WebAuthnError } from '../mfa/webauthn.ts';
import type { BrowserSession } from '../oidc/bridge.ts';
import {
  CsrfError,
  domainMessage,
  type InteractionDeps,
  jsonError,
  renderPage,
  requestOrigin,
  seeOther,
} from './context.ts';
import { readForm } from './forms.ts';

const PURPOSE = 'account-factors';

/** A change of factors, as the audit log names it. */
interface Change {
  change: 'add' | 'remove' | 'recovery_codes';
  method?: 'totp' | 'webauthn';
}

type Standing =
  | { ok: true }
  | { ok: false; reason: 'stale_sign_in' | 'weaker_sign_in'; level: number; required: number };

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

  /**
   * Whether the session may change factors now: signed in recently, at the level of the
   * strongest factor the person holds (any level when they have none).
   */
  async function standing(session: BrowserSession): Promise<Standing> {
    const age = Math.floor(clock.now() / 1000) - (session.loginTs ?? 0);
    const level = assurance.levelOf(session.acr);
    const required = (await factors.summary(session.accountId)).strongest;
    if (age > config.mfa.changeMaxAgeSeconds)
      return { ok: false, reason: 'stale_sign_in', level, required };
    if (level < required) return { ok: false, reason: 'weaker_sign_in', level, required };
    return { ok: true };
  }

  /**
   * The signed-in session allowed to make `change`, with the CSRF token of the form checked (for
   * posts); otherwise a redirect (and, for a change, an audit event) and undefined.
   */
  async function session(
    ctx: Koa.Context,
    form?: Record<string, string>,
    change?: Change,
  ): Promise<BrowserSession | undefined> {
    const s = await bridge.session(ctx);
    if (!s) {
      seeOther(ctx, '/account');
      return undefined;
    }
    if (form && !csrf.verify(s.uid, PURPOSE, form._csrf)) throw new CsrfError();
    const now = await standing(s);
    if (!now.ok) {
      if (change) await refused(ctx, s, change, now);
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
    outcome: 'success' | 'failure' = 'success',
  ) {
    await deps.record({
      actor: { type: 'user', id: s.accountId },
      action,
      target: { type: 'user', id: s.accountId },
      outcome,
      ...requestOrigin(ctx),
      details,
    });
  }

  /** A change refused: why, and the level of the session against the one it needs. */
  function refused(
    ctx: Koa.Context,
    s: BrowserSession,
    change: Change,
    why:
      | Extract<Standing, { ok: false }>
      | { reason: 'already_registered'; level?: undefined; required?: undefined },
  ) {
    return record(
      ctx,
      s,
      'mfa.change_refused',
      {
        ...change,
        during: 'account',
        reason: why.reason,
        ...(why.level !== undefined ? { level: why.level, required: why.required } : {}),
      },
      'failure',
    );
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
    extra: { error?: Message; status?: number; enrolmentId?: string; totp: boolean },
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
        reason: extra.totp ? 'enrol.reasonAccountTotp' : 'enrol.reasonAccountWebauthn',
        error: extra.error,
        totp: pending ? { ...pending, action: '/account/totp' } : undefined,
        webauthnAction: '/account/webauthn',
        csrf: csrf.token(s.uid, PURPOSE),
        // Opened from the account page: a way back to it without adding anything.
        backTo: '/account',
      },
      extra.status,
    );
  }

  return {
    /** Data for the factors section of the account page. */
    async view(s: BrowserSession) {
      const summary = await factors.summary(s.accountId);
      return {
        ...summary,
        canChange: (await standing(s)).ok,
        csrf: csrf.token(s.uid, PURPOSE),
      };
    },

    /** Signs in again (password, and the strongest factor the person has), then back to /account. */
    async reauth(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const s = await bridge.session(ctx);
      if (!s || !csrf.verify(s.uid, PURPOSE, form._csrf)) throw new CsrfError();
      const { strongest } = await factors.summary(s.accountId);
      const user = await accounts.get(s.accountId);
      startLogin(ctx, {
        prompt: 'login',
        max_age: '0',
        // The login page is prefilled and says why it asks again (login.ts, `reauth`).
        ...(user ? { login_hint: user.email } : {}),
        ...(strongest > 1 ? { acr_values: assurance.acrFor(strongest) } : {}),
      });
    },

    async totpPage(ctx: Koa.Context): Promise<void> {
      const s = await session(ctx);
      if (s) await enrolPage(ctx, s, { totp: true });
    },

    async addTotp(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const s = await session(ctx, form, { change: 'add', method: 'totp' });
      if (!s) return;
      const hadFactor = (await factors.summary(s.accountId)).hasSecondFactor;
      if (!(await totp.confirmEnrolment(s.accountId, form.enrolment ?? '', form.code ?? ''))) {
        return enrolPage(ctx, s, {
          totp: true,
          enrolmentId: form.enrolment,
          status: 400,
          error: 'accountFactors.error.wrongCode',
        });
      }
      await record(ctx, s, 'mfa.enrolled', { method: 'totp', during: 'account' });
      await afterAdding(ctx, s, hadFactor);
    },

    async removeTotp(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const s = await session(ctx, form, { change: 'remove', method: 'totp' });
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
        return jsonError(ctx, 403, 'invalid_request', views.translatorFor(ctx).t('page.expired'));
      const now = await standing(s);
      if (!now.ok) {
        await refused(ctx, s, { change: 'add', method: 'webauthn' }, now);
        return jsonError(
          ctx,
          403,
          'login_required',
          views.translatorFor(ctx).t('accountFactors.error.signInAgain'),
        );
      }
      const user = (await accounts.get(s.accountId))!;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = await webauthn.registrationOptions(user, s.uid);
    },

    async addWebauthn(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const change = { change: 'add', method: 'webauthn' } as const;
      const s = await session(ctx, form, change);
      if (!s) return;
      const hadFactor = (await factors.summary(s.accountId)).hasSecondFactor;
      try {
        const credential = await webauthn.register(
          s.accountId,
          s.uid,
          parseWebAuthnResponse(form.response),
          form.name ?? '',
        );
        await record(ctx, s, 'mfa.enrolled', {
          method: 'webauthn',
          name: credential.name,
          during: 'account',
        });
      } catch (err) {
        if (err instanceof CredentialExistsError) {
          await refused(ctx, s, change, { reason: 'already_registered' });
          return enrolPage(ctx, s, { totp: false, status: 409, error: 'webauthn.error.exists' });
        }
        if (err instanceof DomainError)
          return enrolPage(ctx, s, { totp: false, status: 400, error: domainMessage(err) });
        if (err instanceof WebAuthnError) {
          return enrolPage(ctx, s, {
            totp: false,
            status: 400,
            error: 'webauthn.error.register',
          });
        }
        throw err;
      }
      await afterAdding(ctx, s, hadFactor);
    },

    async removeWebauthn(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const s = await session(ctx, form, { change: 'remove', method: 'webauthn' });
      if (!s) return;
      await factors.assertRemovable(s.accountId, 'webauthn');
      if (await webauthn.remove(s.accountId, String(ctx.params.id)))
        await record(ctx, s, 'mfa.removed', { method: 'webauthn', credential: ctx.params.id });
      await factors.afterRemoval(s.accountId);
      seeOther(ctx, '/account?notice=factor-removed');
    },

    async regenerateRecoveryCodes(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const s = await session(ctx, form, { change: 'recovery_codes' });
      if (!s) return;
      if (!(await factors.summary(s.accountId)).hasSecondFactor) return seeOther(ctx, '/account');
      const codes = await recoveryCodes.regenerate(s.accountId);
      await record(ctx, s, 'recovery_codes.regenerated', {});
      renderPage(ctx, views, 'recovery-codes', { codes, action: '/account', csrf: '' });
    },
  };
}
