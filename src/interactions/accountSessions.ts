// The account page's sessions and security activity: the person's signed-in browsers (with
// "sign out this device", which ends that session and the tokens bound to it, tells the
// applications it signed in to, and is audited) and their own recent security events.
import type Koa from 'koa';
import type { AuditEvent } from '../audit/event.ts';
import { deviceOf } from '../http/userAgent.ts';
import { type Msg, msg } from '../i18n/translator.ts';
import type { BrowserSession } from '../oidc/bridge.ts';
import { CsrfError, type InteractionDeps, requestOrigin, seeOther } from './context.ts';
import { readForm } from './forms.ts';

/** What each kind of event means to the person it is about (a catalogue key). */
const ACTIVITY_KEYS: Record<string, (e: AuditEvent) => string> = {
  'login.success': (e) =>
    e.details.stepUp ? 'account.activity.stepUp' : 'account.activity.signedIn',
  'login.failure': () => 'account.activity.loginFailed',
  'account.locked': () => 'account.activity.locked',
  'mfa.failure': () => 'account.activity.factorFailed',
  'mfa.enrolled': (e) =>
    e.details.method === 'totp' ? 'account.activity.appAdded' : 'account.activity.keyAdded',
  'mfa.removed': (e) =>
    e.details.method === 'totp' ? 'account.activity.appRemoved' : 'account.activity.keyRemoved',
  'recovery_code.used': () => 'account.activity.recoveryCodeUsed',
  'recovery_codes.regenerated': () => 'account.activity.recoveryCodesNew',
  'logout.success': (e) =>
    e.details.everywhere
      ? 'account.activity.signedOutEverywhere'
      : e.details.device
        ? 'account.activity.deviceSignedOut'
        : 'account.activity.signedOut',
  'user.password_set': () => 'account.activity.adminPassword',
  'user.locked': () => 'account.activity.adminLocked',
  'user.unlocked': () => 'account.activity.adminUnlocked',
  'user.factors_reset': () => 'account.activity.adminFactorsReset',
  'user.sessions_revoked': () => 'account.activity.adminSignedOut',
};

/** "Firefox on Linux": a device as its user agent named it (never the user agent itself). */
function device({
  browser,
  system,
}: {
  browser?: string | undefined;
  system?: string | undefined;
}): Msg {
  if (!browser) return msg(system ? 'account.device.system' : 'account.device.unknown', { system });
  return system
    ? msg('account.device.browserOn', { browser, system })
    : msg('account.device.browser', { browser });
}

export function accountSessions(deps: InteractionDeps) {
  const { grants, bridge, csrf, assurance, config } = deps;

  return {
    /** The person's sessions for the account page, this browser's first. */
    async view(session: BrowserSession) {
      const names = new Map<string, string>();
      const nameOf = async (clientId: string) => {
        if (!names.has(clientId))
          names.set(clientId, (await bridge.client(clientId))?.name ?? clientId);
        return names.get(clientId)!;
      };
      const rows = [];
      for (const s of await grants.sessions(session.accountId)) {
        // Each use extends a session by the idle time: its end, less that, is its last use.
        const lastUsed = s.expiresAt
          ? new Date(
              Math.max(
                s.signedInAt?.getTime() ?? 0,
                s.expiresAt.getTime() - config.sessions.idleSeconds * 1000,
              ),
            )
          : undefined;
        const level = assurance.levelOf(s.acr);
        const apps = [];
        for (const id of s.clientIds) if (id !== 'portcullis-account') apps.push(await nameOf(id));
        rows.push({
          uid: s.uid,
          current: s.uid === session.uid,
          signedInAt: s.signedInAt ?? s.createdAt,
          lastUsed,
          level: level ? `account.sessions.level${level}` : '',
          apps,
          device: s.device ? device(s.device) : undefined,
        });
      }
      return rows.sort((a, b) => Number(b.current) - Number(a.current));
    },

    /** The person's own recent security activity, newest first. */
    async activity(session: BrowserSession) {
      const events = await deps.activity(session.accountId);
      return events.map((e) => ({
        when: e.occurredAt,
        what: ACTIVITY_KEYS[e.action]?.(e) ?? 'account.activity.other',
        failed: e.outcome === 'failure',
        device: device(deviceOf(e.userAgent)),
      }));
    },

    /** "Sign out this device": ends one of the person's sessions (this one too, if chosen). */
    async end(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const session = await bridge.session(ctx);
      if (!session || !csrf.verify(session.uid, 'account', form._csrf)) throw new CsrfError();
      const uid = String(ctx.params.uid);
      const current = uid === session.uid;
      const ended = await grants.endSession(session.accountId, uid, 'device');
      if (ended) {
        await deps.record({
          actor: { type: 'user', id: session.accountId },
          action: 'logout.success',
          target: { type: 'user', id: session.accountId },
          outcome: 'success',
          ...requestOrigin(ctx),
          details: { everywhere: false, device: current ? 'this' : 'other' },
        });
      }
      if (current) return seeOther(ctx, '/account');
      seeOther(ctx, ended ? '/account?notice=device-signed-out' : '/account');
    },
  };
}
