// What the login pages depend on, gathered in one type, and the small helpers every page uses.
import type Koa from 'koa';
import type { Accounts } from '../accounts/accounts.ts';
import type { Authenticator } from '../accounts/authenticate.ts';
import type { AuditEvent } from '../audit/event.ts';
import type { AuditEventInput } from '../audit/log.ts';
import type { RecordSecurityEvent } from '../audit/recorder.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Consents } from '../consents/consents.ts';
import type { DomainError } from '../errors.ts';
import { PageError } from '../http/pageError.ts';
import type { Views } from '../http/views.ts';
import { type Message, msg } from '../i18n/translator.ts';
import type { Logger } from '../log.ts';
import type { Assurance } from '../mfa/assurance.ts';
import type { Factors } from '../mfa/factors.ts';
import type { LoginProgress } from '../mfa/loginProgress.ts';
import type { PaymentAssertion } from '../mfa/paymentAssertion.ts';
import type { RecoveryCodes } from '../mfa/recoveryCodes.ts';
import type { Totp } from '../mfa/totp.ts';
import type { WebAuthn } from '../mfa/webauthn.ts';
import type { InteractionBridge } from '../oidc/bridge.ts';
import type { Catalogue } from '../oidc/catalogue.ts';
import type { GrantRegistry } from '../oidc/grants.ts';
import type { Csrf } from './csrf.ts';

/** A security event for the audit log (never with a secret in it). */
export type SecurityEvent = AuditEventInput;

export interface InteractionDeps {
  config: Config;
  clock: Clock;
  logger: Logger;
  views: Views;
  csrf: Csrf;
  bridge: InteractionBridge;
  accounts: Accounts;
  authenticator: Authenticator;
  catalogue: Catalogue;
  grants: GrantRegistry;
  assurance: Assurance;
  factors: Factors;
  totp: Totp;
  webauthn: WebAuthn;
  paymentAssertion: PaymentAssertion;
  consents: Consents;
  recoveryCodes: RecoveryCodes;
  progress: LoginProgress;
  /** `record.with` records events in the same statement as the writes they belong to. */
  record: RecordSecurityEvent;
  /** The person's own recent security events (the account page's activity). */
  activity: (userId: string) => Promise<AuditEvent[]>;
}

/** Post/redirect/get: after a form, send the browser to a page with a GET. */
export function seeOther(ctx: Koa.Context, url: string): void {
  ctx.status = 303;
  ctx.redirect(url);
}

/** JSON answers of the small API the WebAuthn script calls. */
export function jsonError(
  ctx: Koa.Context,
  status: number,
  error: string,
  description: string,
): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error, error_description: description };
}

/** How a page shows a domain error: its catalogue message when it has one, else its own text. */
export const domainMessage = (err: DomainError): Message =>
  err.page ? msg(err.page.key, err.page.params) : { text: err.message };

/** A form without the CSRF token of its login or session: refused, nothing changes. */
export class CsrfError extends PageError {
  override name = 'CsrfError';
  constructor() {
    super(403, 'error.csrf');
  }
}

/** Renders a page that must never be cached (it carries a CSRF token or personal data). */
export function renderPage(
  ctx: Koa.Context,
  views: Views,
  template: string,
  data: Record<string, unknown>,
  status = 200,
): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = views.page(ctx, template, data);
}

/** Who made the request, for the audit log. */
export const requestOrigin = (ctx: Koa.Context) => ({
  sourceIp: ctx.ip,
  userAgent: ctx.get('user-agent').slice(0, 256) || undefined,
});
