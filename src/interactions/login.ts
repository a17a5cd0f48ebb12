// The sign-in page of a login: email and password, one generic message for every failure (so
// it tells nothing about which accounts exist), and cancel, which returns access_denied.
import type Koa from 'koa';
import { DEFAULT_ACR } from '../mfa/assurance.ts';
import type { PendingInteraction } from '../oidc/bridge.ts';
import { CsrfError, type InteractionDeps, renderPage, requestOrigin } from './context.ts';
import { readForm } from './forms.ts';

export const GENERIC_SIGN_IN_ERROR =
  'The email address or password is not right, or the account cannot sign in now.';

export function loginPage(deps: InteractionDeps) {
  const { views, csrf } = deps;

  function show(
    ctx: Koa.Context,
    i: PendingInteraction,
    extra: { email?: string; error?: string; status?: number } = {},
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
        error: extra.error,
        csrf: csrf.token(i.uid, 'login'),
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
      return show(ctx, i, { status: 400, error: 'This sign-in step is already complete.' });

    const email = (form.email ?? '').trim();
    const password = form.password ?? '';
    if (!email || !password)
      return show(ctx, i, { email, status: 400, error: 'Enter your email address and password.' });

    const result = await deps.authenticator.withPassword({ email, password, ip: ctx.ip });
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
        const minutes = Math.ceil(result.retryAfterSeconds / 60);
        return show(ctx, i, {
          email,
          status: 429,
          error: `Too many failed sign-ins from your network. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        });
      }
      await deps.record({
        actor: { type: 'user', id: result.userId },
        action: 'login.failure',
        target: result.userId ? { type: 'user', id: result.userId } : undefined,
        outcome: 'failure',
        ...origin,
        details: { reason: result.reason, client: i.client.clientId },
      });
      if (result.reason === 'wrong_password' && result.lockedUntil && result.userId) {
        await deps.record({
          actor: { type: 'system' },
          action: 'account.locked',
          target: { type: 'user', id: result.userId },
          outcome: 'success',
          ...origin,
          details: { until: result.lockedUntil.toISOString() },
        });
      }
      return show(ctx, i, { email, status: 401, error: GENERIC_SIGN_IN_ERROR });
    }

    await deps.record({
      actor: { type: 'user', id: result.user.id },
      action: 'login.success',
      target: { type: 'user', id: result.user.id },
      outcome: 'success',
      ...origin,
      details: { client: i.client.clientId, amr: ['pwd'] },
    });
    await deps.bridge.finishLogin(ctx, {
      accountId: result.user.id,
      acr: DEFAULT_ACR[1],
      amr: ['pwd'],
    });
  }

  return { show, submit };
}
