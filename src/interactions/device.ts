// The device page of RFC 8628 ({ISSUER}/device): a person enters the code their TV or terminal
// shows, checks it, then signs in and consents as in any login. oidc-provider runs the flow (see
// src/oidc/deviceFlow.ts); these are its pages, its limit on wrong codes per address (the library
// has none) and the audit of each approval and refusal.
import Router from '@koa/router';
import type Koa from 'koa';
import type { ThrottleStore } from '../accounts/throttleStore.ts';
import type { Clock } from '../clock.ts';
import type { Views } from '../http/views.ts';
import { msg } from '../i18n/translator.ts';
import type { DeviceCodeProblem, DevicePages } from '../oidc/deviceFlow.ts';
import { renderPage, requestOrigin, type SecurityEvent } from './context.ts';

export interface DeviceDeps {
  views: Views;
  clock: Clock;
  /** Fixed-window counters shared by every instance (src/accounts/throttleStore.ts). */
  throttle: Pick<ThrottleStore, 'beginAttempt' | 'pendingToFailure' | 'refund'>;
  limits: {
    /** Wrong codes one address may enter per window. */
    failureLimit: number;
    failureWindowSeconds: number;
  };
  record: (event: SecurityEvent) => Promise<void>;
}

/** Codes one address may have in flight at once (a burst is refused before any is checked). */
const PENDING_LIMIT = 5;

/** What the page says of each problem: catalogue keys (src/i18n/locales). */
const MESSAGES: Record<DeviceCodeProblem, string> = {
  not_found: 'device.error.notFound',
  expired: 'device.error.expired',
  used: 'device.error.used',
  missing: 'device.error.missing',
  aborted: 'device.error.aborted',
  error: 'device.error.formExpired',
};

/** Marks a request whose code was wrong, for the limit settled when the request ends. */
const WRONG_CODE = Symbol('wrong device code');
/** A code given in the link (verification_uri_complete), to be shown in the form. */
const LINKED_CODE = Symbol('linked device code');

type State = Record<symbol, unknown>;

export function devicePages(deps: DeviceDeps): { pages: DevicePages; router: Router } {
  const { views, throttle, limits } = deps;
  const failureKey = (ip: string) => `device-code-ip:${ip}`;
  const pendingKey = (ip: string) => `device-code-pending:${ip}`;

  const pages: DevicePages = {
    async input(ctx, page) {
      const problem = page.problem;
      if (problem === 'not_found') (ctx.state as State)[WRONG_CODE] = true;
      if (problem === 'aborted' && page.clientId) {
        await deps.record({
          // Who cancelled: the person, known once they signed in.
          actor: page.accountId ? { type: 'user', id: page.accountId } : { type: 'user' },
          action: 'device.code_refused',
          target: { type: 'client', id: page.clientId },
          outcome: 'success',
          ...requestOrigin(ctx),
          details: { client: page.clientId },
        });
      }
      const linked = (ctx.state as State)[LINKED_CODE] as string | undefined;
      // A refused form (anti-forgery value missing or stale) keeps the library's 4xx status.
      const status =
        problem === 'error' && ctx.status >= 400 && ctx.status !== 404 ? ctx.status : 200;
      renderPage(
        ctx,
        views,
        'device',
        {
          step: 'input',
          action: page.action,
          xsrf: page.xsrf,
          userCode: page.userCode ?? linked,
          message: problem ? MESSAGES[problem] : undefined,
          failed: problem !== undefined,
        },
        status,
      );
    },
    async confirm(ctx, page) {
      renderPage(ctx, views, 'device', { step: 'confirm', ...page });
    },
    async success(ctx, page) {
      await deps.record({
        actor: page.accountId ? { type: 'user', id: page.accountId } : { type: 'user' },
        action: 'device.code_confirmed',
        target: { type: 'client', id: page.clientId },
        outcome: 'success',
        ...requestOrigin(ctx),
        details: { client: page.clientId },
      });
      renderPage(ctx, views, 'device', { step: 'success', clientName: page.clientName });
    },
  };

  const router = new Router();
  // A link with the code (verification_uri_complete) fills the form in; the person still checks
  // the code and presses Continue (RFC 8628 section 3.3.1), and no inline script is needed.
  router.get('/device', async (ctx, next) => {
    const code = ctx.query.user_code;
    if (typeof code === 'string') {
      (ctx.state as State)[LINKED_CODE] = code.slice(0, 32);
      ctx.querystring = '';
    }
    await next();
  });
  // Every code entered holds a pending point of its address until the library has looked it up:
  // a wrong code turns it into a failure, anything else gives it back. Over the limit, the page
  // says so and the library never sees the code.
  router.post('/device', async (ctx, next) => {
    const ip = ctx.ip;
    const now = new Date(deps.clock.now());
    const state = await throttle.beginAttempt(
      pendingKey(ip),
      failureKey(ip),
      now,
      limits.failureWindowSeconds,
    );
    if (state.failures >= limits.failureLimit || state.pending > PENDING_LIMIT) {
      await throttle.refund(pendingKey(ip));
      refuseTooMany(ctx, state.failures >= limits.failureLimit ? state.failuresEndAt : null, now);
      return;
    }
    let wrong = false;
    try {
      await next();
      wrong = (ctx.state as State)[WRONG_CODE] === true;
    } finally {
      if (wrong)
        await throttle.pendingToFailure(
          pendingKey(ip),
          failureKey(ip),
          now,
          limits.failureWindowSeconds,
        );
      else await throttle.refund(pendingKey(ip));
    }
  });

  function refuseTooMany(ctx: Koa.Context, until: Date | null, now: Date): void {
    const seconds = until ? Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000)) : 1;
    const minutes = Math.ceil(seconds / 60);
    ctx.set('Retry-After', String(seconds));
    renderPage(
      ctx,
      views,
      'device',
      {
        step: 'input',
        message: until
          ? msg('device.error.tooManyWrong', { count: minutes })
          : msg('device.error.tooManyPending'),
        failed: true,
      },
      429,
    );
  }

  return { pages, router };
}
