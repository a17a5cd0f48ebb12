// The sign-in page of a login: email and password (one generic message for every failure, so it
// tells nothing about which accounts exist), or a passkey; cancel returns access_denied. What
// comes after the first factor is decided by secondFactor.ts.
import type Koa from 'koa';
import { type Msg, msg } from '../i18n/translator.ts';
import { parseWebAuthnResponse, WebAuthnError, webauthnAmr } from '../mfa/webauthn.ts';
import type { PendingInteraction } from '../oidc/bridge.ts';
import { ACCOUNT_CLIENT_ID } from './account.ts';
import {
  CsrfError,
  type InteractionDeps,
  jsonError,
  renderPage,
  requestOrigin,
  seeOther,
} from './context.ts';
import { readForm } from './forms.ts';
import type { SecondFactorSteps } from './secondFactor.ts';

export const GENERIC_SIGN_IN_ERROR = msg('login.error.generic');
export const PASSKEY_ERROR = msg('login.error.passkey');

/** Too many failures from one address (passwords and second factors alike). */
export const networkLimitMessage = (retryAfterSeconds: number) =>
  msg('login.error.networkLimit', { count: Math.ceil(retryAfterSeconds / 60) });

/** Too many sign-ins from one address being checked at once (none need have failed). */
export const NETWORK_BUSY_MESSAGE = msg('login.error.networkBusy');

export function loginPage(deps: InteractionDeps, steps: SecondFactorSteps) {
  const { views, csrf } = deps;

  function show(
    ctx: Koa.Context,
    i: PendingInteraction,
    extra: { email?: string; error?: Msg; status?: number } = {},
  ) {
    const hint = typeof i.params.login_hint === 'string' ? i.params.login_hint : '';
    renderPage(
      ctx,
      views,
      'login',
      {
        uid: i.uid,
        clientName: i.client.name,
        email: extra.email ?? hint,
        // "Confirm it is you" from the account page: say why the password is asked again.
        reauth: i.client.clientId === ACCOUNT_CLIENT_ID && i.params.prompt === 'login' && !!hint,
        error: extra.error,
        csrf: csrf.token(i.uid, 'login'),
        passkeyCsrf: csrf.token(i.uid, 'passkey'),
        abortCsrf: csrf.token(i.uid, 'abort'),
      },
      extra.status,
    );
  }

  async function submit(ctx: Koa.Context): Promise<void> {
    const form = await readForm(ctx);
    const i = await deps.bridge.details(ctx);
    if (!csrf.verify(i.uid, 'login', form._csrf)) throw new CsrfError();
    if (i.prompt.name !== 'login')
      return show(ctx, i, { status: 400, error: msg('login.error.complete') });

    const email = (form.email ?? '').trim();
    const password = form.password ?? '';
    if (!email || !password)
      return show(ctx, i, { email, status: 400, error: msg('login.error.missing') });

    // The success's writes wait for the statement that ends this page (src/db/together.ts).
    const result = await deps.authenticator.checkPassword({ email, password, ip: ctx.ip });
    const origin = requestOrigin(ctx);
    if (!result.ok) {
      if (result.reason === 'rate_limited') {
        await deps.record({
          actor: { type: 'system' },
          action: 'login.rate_limited',
          outcome: 'failure',
          ...origin,
          details: { client: i.client.clientId },
        });
        ctx.set('Retry-After', String(result.retryAfterSeconds));
        return show(ctx, i, {
          email,
          status: 429,
          error: result.pending
            ? NETWORK_BUSY_MESSAGE
            : networkLimitMessage(result.retryAfterSeconds),
        });
      }
      await deps.record({
        actor: { type: 'user', id: result.userId },
        action: 'login.failure',
        target: result.userId ? { type: 'user', id: result.userId } : undefined,
        outcome: 'failure',
        ...origin,
        details: { reason: result.reason, method: 'password', client: i.client.clientId },
      });
      if (result.reason === 'wrong_password' && result.lockedUntil && result.userId) {
        await deps.record({
          actor: { type: 'system' },
          action: 'account.locked',
          target: { type: 'user', id: result.userId },
          outcome: 'success',
          ...origin,
          details: { until: result.lockedUntil.toISOString(), reason: 'wrong_passwords' },
        });
      }
      return show(ctx, i, { email, status: 401, error: GENERIC_SIGN_IN_ERROR });
    }

    // The password is right. When the request needs no more, the login ends here (one redirect
    // fewer) and the attempt stops counting against the address; otherwise the next page asks
    // for what else it needs, and the address point is given back only when the sign-in completes.
    const continues = i.assurance.required > 1;
    const progress = {
      userId: result.user.id,
      amr: ['pwd'],
      level: 1 as const,
      addressPoints: continues ? 1 : 0,
    };
    // The password count is cleared and the pending point settled in the statement that
    // completes the sign-in, or in the one that saves its progress.
    if (!continues)
      return steps.finish(ctx, i, progress, {
        writes: [result.clearFailures, deps.authenticator.passwordCompletesPart(ctx.ip)],
      });
    await deps.progress.save(i.uid, progress, [
      result.clearFailures,
      ...deps.authenticator.passwordContinuesParts(ctx.ip),
    ]);
    seeOther(ctx, `/interaction/${i.uid}`);
  }

  /** Options for a passwordless sign-in with any passkey of this site (user verification required). */
  async function passkeyOptions(ctx: Koa.Context): Promise<void> {
    const form = await readForm(ctx);
    const i = await deps.bridge.details(ctx);
    if (!csrf.verify(i.uid, 'passkey', form._csrf))
      return jsonError(
        ctx,
        403,
        'invalid_request',
        deps.views.translatorFor(ctx).t('page.expired'),
      );
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await deps.webauthn.authenticationOptions(i.uid);
  }

  async function passkey(ctx: Koa.Context): Promise<void> {
    const form = await readForm(ctx);
    const i = await deps.bridge.details(ctx);
    if (!csrf.verify(i.uid, 'passkey', form._csrf)) throw new CsrfError();
    const origin = requestOrigin(ctx);
    let user: Awaited<ReturnType<typeof deps.accounts.get>>;
    let done: Awaited<ReturnType<typeof deps.webauthn.authenticate>>;
    try {
      done = await deps.webauthn.authenticate(i.uid, parseWebAuthnResponse(form.response));
      user = await deps.accounts.get(done.userId);
      if (user?.status !== 'active')
        throw new WebAuthnError('the account cannot sign in', 'verification');
    } catch (err) {
      // Unknown errors go to the generic error handling; only a failed ceremony is shown here.
      if (!(err instanceof WebAuthnError)) throw err;
      await deps.record({
        actor: { type: 'system' },
        action: 'login.failure',
        outcome: 'failure',
        ...origin,
        details: { method: 'passkey', reason: err.reason, client: i.client.clientId },
      });
      return show(ctx, i, { status: 401, error: PASSKEY_ERROR });
    }
    await deps.record({
      actor: { type: 'user', id: user.id },
      action: 'mfa.used',
      target: { type: 'user', id: user.id },
      outcome: 'success',
      ...origin,
      details: { method: 'passkey', client: i.client.clientId },
    });
    await deps.progress.save(i.uid, {
      userId: user.id,
      amr: webauthnAmr(done),
      level: 3,
      addressPoints: 0,
    });
    const s = await steps.state(i);
    return steps.next(ctx, i, s!);
  }

  return { show, submit, passkeyOptions, passkey };
}
