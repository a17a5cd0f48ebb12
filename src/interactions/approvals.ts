// The person's "authentication device" for backchannel authentication (CIBA): pending approvals
// on the account page (/account/approvals), each showing the client and its binding message.
// Approving needs a second factor made for that approval at the level the request needs
// (level 2: authenticator app or passkey; level 3: passkey or security key); denying does not.
import Router from '@koa/router';
import type Koa from 'koa';
import type { Approvals, Decided } from '../ciba/approvals.ts';
import type { Clock } from '../clock.ts';
import { DomainError } from '../errors.ts';
import type { Views } from '../http/views.ts';
import type { Logger } from '../log.ts';
import type { Assurance } from '../mfa/assurance.ts';
import type { Factors } from '../mfa/factors.ts';
import type { Totp } from '../mfa/totp.ts';
import {
  parseWebAuthnResponse,
  type WebAuthn,
  WebAuthnError,
  webauthnAmr,
} from '../mfa/webauthn.ts';
import type { InteractionBridge } from '../oidc/bridge.ts';
import type { ApprovalLogin, CibaCompletion } from '../oidc/ciba.ts';
import {
  CsrfError,
  jsonError,
  renderPage,
  requestOrigin,
  type SecurityEvent,
  seeOther,
} from './context.ts';
import type { Csrf } from './csrf.ts';
import { readForm } from './forms.ts';

const PURPOSE = 'approvals';

export interface ApprovalPageDeps {
  views: Views;
  csrf: Csrf;
  bridge: InteractionBridge;
  approvals: Approvals;
  completion: CibaCompletion;
  totp: Totp;
  webauthn: WebAuthn;
  factors: Factors;
  assurance: Assurance;
  clock: Clock;
  logger: Logger;
  record: (event: SecurityEvent) => Promise<void>;
}

/** ?notice= values and their catalogue keys (src/i18n/locales). */
const NOTICES: Record<string, string> = {
  approved: 'approvals.notice.approved',
  denied: 'approvals.notice.denied',
  gone: 'approvals.notice.gone',
  'bad-code': 'approvals.notice.badCode',
  'bad-key': 'approvals.notice.badKey',
  'too-weak': 'approvals.notice.tooWeak',
  'too-many': 'approvals.notice.tooMany',
};

/** WebAuthn challenges made for one approval work for that approval only. */
const bindingOf = (sessionUid: string, approvalId: string) =>
  `ciba-approval\n${sessionUid}\n${approvalId}`;

export function approvalRoutes(deps: ApprovalPageDeps): Router {
  const { views, csrf, bridge, approvals, completion, totp, webauthn, factors, assurance } = deps;
  const router = new Router();

  async function sessionFor(ctx: Koa.Context, form?: Record<string, string>) {
    const session = await bridge.session(ctx);
    if (!session) {
      // The account page signs the person in, then they come back here.
      seeOther(ctx, '/account');
      return undefined;
    }
    if (form && !csrf.verify(session.uid, PURPOSE, form._csrf)) throw new CsrfError();
    return session;
  }

  const back = (ctx: Koa.Context, notice: string) =>
    seeOther(ctx, `/account/approvals?notice=${notice}`);

  /** The pending approval named in the URL, or a redirect saying it is gone. */
  async function pendingOr(ctx: Koa.Context, accountId: string) {
    try {
      return await approvals.get(String(ctx.params.id), accountId);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'not_found') {
        back(ctx, 'gone');
        return undefined;
      }
      throw err;
    }
  }

  async function decided(
    ctx: Koa.Context,
    d: Decided | undefined,
    login: ApprovalLogin | undefined,
    details: { method?: string; reason?: string },
  ): Promise<void> {
    if (!d) return back(ctx, 'gone');
    await completion.complete(d, login);
    const approved = d.status === 'approved';
    await deps.record({
      actor: { type: 'user', id: d.accountId },
      action: approved ? 'ciba.approved' : 'ciba.denied',
      target: { type: 'client', id: d.clientId },
      outcome: 'success',
      ...requestOrigin(ctx),
      details: approved
        ? {
            approval: d.id,
            client: d.clientId,
            level: login ? assurance.levelOf(login.acr) : 0,
            method: details.method,
          }
        : { approval: d.id, client: d.clientId, reason: details.reason ?? 'denied' },
    });
    back(
      ctx,
      approved ? 'approved' : details.reason === 'too_many_failures' ? 'too-many' : 'denied',
    );
  }

  /** A failed second factor: counted; the approval is denied after too many. */
  async function failed(
    ctx: Koa.Context,
    accountId: string,
    approval: { id: string; clientId: string },
    notice: string,
    method: string,
  ) {
    await deps.record({
      actor: { type: 'user', id: accountId },
      action: 'mfa.failure',
      outcome: 'failure',
      ...requestOrigin(ctx),
      details: { method, reason: notice, client: approval.clientId },
    });
    const denied = await approvals.failed(approval.id, accountId);
    if (denied) return decided(ctx, denied, undefined, { reason: 'too_many_failures' });
    back(ctx, notice);
  }

  const authTime = () => Math.floor(deps.clock.now() / 1000);
  const withPassword = (amr: string[] | undefined, factor: string[]) => [
    ...new Set([...(amr?.includes('pwd') ? ['pwd'] : []), ...factor, 'mfa']),
  ];

  router.get('/account/approvals', async (ctx) => {
    const session = await sessionFor(ctx);
    if (!session) return;
    const [pending, summary] = await Promise.all([
      approvals.pending(session.accountId),
      factors.summary(session.accountId),
    ]);
    const notice = typeof ctx.query.notice === 'string' ? NOTICES[ctx.query.notice] : undefined;
    renderPage(ctx, views, 'approvals', {
      approvals: pending.map((a) => ({
        id: a.id,
        clientName: a.clientName,
        bindingMessage: a.bindingMessage,
        scopes: a.scopes,
        level: a.requiredLevel,
        expiresAt: a.expiresAt,
        totp: a.requiredLevel === 2 && summary.totp,
        webauthn: summary.credentials.length > 0,
      })),
      hasFactor: summary.hasSecondFactor,
      webauthn: summary.credentials.length > 0,
      notice,
      csrf: csrf.token(session.uid, PURPOSE),
    });
  });

  router.post('/account/approvals/:id/deny', async (ctx) => {
    const form = await readForm(ctx);
    const session = await sessionFor(ctx, form);
    if (!session) return;
    const d = await approvals.decide(String(ctx.params.id), session.accountId, 'denied');
    await decided(ctx, d, undefined, { reason: 'denied' });
  });

  router.post('/account/approvals/:id/totp', async (ctx) => {
    const form = await readForm(ctx);
    const session = await sessionFor(ctx, form);
    if (!session) return;
    const approval = await pendingOr(ctx, session.accountId);
    if (!approval) return;
    // Level 3 is phishing-resistant: a code typed from an app never reaches it.
    if (approval.requiredLevel > 2) return back(ctx, 'too-weak');
    const check = await totp.verify(session.accountId, String(form.code ?? ''));
    if (check !== 'ok') return failed(ctx, session.accountId, approval, 'bad-code', 'totp');
    const d = await approvals.decide(approval.id, session.accountId, 'approved');
    await decided(
      ctx,
      d,
      { acr: assurance.acrFor(2), amr: withPassword(session.amr, ['otp']), authTime: authTime() },
      { method: 'totp' },
    );
  });

  router.post('/account/approvals/:id/webauthn/options', async (ctx) => {
    const form = await readForm(ctx);
    const session = await bridge.session(ctx);
    const say = (key: string) => views.translatorFor(ctx).t(key);
    if (!session) return jsonError(ctx, 401, 'login_required', say('approvals.error.signIn'));
    if (!csrf.verify(session.uid, PURPOSE, form._csrf))
      return jsonError(ctx, 403, 'invalid_request', say('page.expired'));
    const id = String(ctx.params.id);
    try {
      await approvals.get(id, session.accountId);
    } catch {
      return jsonError(ctx, 404, 'not_found', say('approvals.error.gone'));
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await webauthn.authenticationOptions(bindingOf(session.uid, id), session.accountId);
  });

  router.post('/account/approvals/:id/webauthn', async (ctx) => {
    const form = await readForm(ctx);
    const session = await sessionFor(ctx, form);
    if (!session) return;
    const approval = await pendingOr(ctx, session.accountId);
    if (!approval) return;
    let done: Awaited<ReturnType<WebAuthn['authenticate']>>;
    try {
      done = await webauthn.authenticate(
        bindingOf(session.uid, approval.id),
        parseWebAuthnResponse(form.response),
        session.accountId,
      );
    } catch (err) {
      if (!(err instanceof WebAuthnError)) throw err;
      return failed(ctx, session.accountId, approval, 'bad-key', 'webauthn');
    }
    const d = await approvals.decide(approval.id, session.accountId, 'approved');
    await decided(
      ctx,
      d,
      {
        acr: assurance.acrFor(3),
        amr: withPassword(session.amr, webauthnAmr(done)),
        authTime: authTime(),
      },
      { method: 'webauthn' },
    );
  });

  return router;
}
