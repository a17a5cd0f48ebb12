// The account page's sessions and security activity: the person's signed-in browsers (with
// "sign out this device", which ends that session and the tokens bound to it, tells the
// applications it signed in to, and is audited) and their own recent security events.
import type Koa from 'koa';
import type { AuditEvent } from '../audit/event.ts';
import type { BrowserSession } from '../oidc/bridge.ts';
import { CsrfError, type InteractionDeps, requestOrigin, seeOther } from './context.ts';
import { readForm } from './forms.ts';

/** Shown as "2026-12-01 14:05 UTC": exact, and the same for every reader. */
export const when = (d: Date | undefined) =>
  d ? `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';

/** What each kind of event means to the person it is about. */
const ACTIVITY_TEXT: Record<string, (e: AuditEvent) => string> = {
  'login.success': (e) => (e.details.stepUp ? 'Stronger sign-in confirmed' : 'Signed in'),
  'login.failure': () => 'Failed sign-in attempt',
  'account.locked': () => 'Sign-in locked for a while after failed attempts',
  'mfa.failure': () => 'Failed second-factor attempt',
  'mfa.enrolled': (e) =>
    e.details.method === 'totp' ? 'Authenticator app added' : 'Security key or passkey added',
  'mfa.removed': (e) =>
    e.details.method === 'totp' ? 'Authenticator app removed' : 'Security key or passkey removed',
  'recovery_code.used': () => 'Recovery code used',
  'recovery_codes.regenerated': () => 'New recovery codes created',
  'logout.success': (e) =>
    e.details.everywhere
      ? 'Signed out everywhere'
      : e.details.device
        ? 'Device signed out'
        : 'Signed out',
  'user.password_set': () => 'Password changed by an administrator',
  'user.locked': () => 'Account locked by an administrator',
  'user.unlocked': () => 'Account unlocked by an administrator',
  'user.factors_reset': () => 'Second factors reset by an administrator',
  'user.sessions_revoked': () => 'Signed out everywhere by an administrator',
};

/** A short device description from a user agent ("Firefox on Windows"); never the string itself. */
export function deviceOf(userAgent: string | null | undefined): string {
  if (!userAgent) return 'Unknown device';
  const browser =
    [
      [/Edg\//, 'Edge'],
      [/OPR\//, 'Opera'],
      [/Firefox\//, 'Firefox'],
      [/Chrom(e|ium)\//, 'Chrome'],
      [/Safari\//, 'Safari'],
      [/^curl\//, 'curl'],
    ].find(([re]) => (re as RegExp).test(userAgent))?.[1] ?? 'A browser';
  const system =
    [
      [/Android/, 'Android'],
      [/iPhone|iPad/, 'iOS'],
      [/Windows/, 'Windows'],
      [/Mac OS X|Macintosh/, 'macOS'],
      [/CrOS/, 'ChromeOS'],
      [/Linux/, 'Linux'],
    ].find(([re]) => (re as RegExp).test(userAgent))?.[1] ?? undefined;
  return system ? `${browser} on ${system}` : String(browser);
}

export function accountSessions(deps: InteractionDeps) {
  const { grants, bridge, csrf, assurance, config } = deps;
  const LEVEL_TEXT = { 1: 'password', 2: 'two factors', 3: 'passkey or security key' } as const;

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
          signedInAt: when(s.signedInAt ?? s.createdAt),
          lastUsed: when(lastUsed),
          level: level ? LEVEL_TEXT[level] : '',
          apps,
        });
      }
      return rows.sort((a, b) => Number(b.current) - Number(a.current));
    },

    /** The person's own recent security activity, newest first. */
    async activity(session: BrowserSession) {
      const events = await deps.activity(session.accountId);
      return events.map((e) => ({
        when: when(e.occurredAt),
        what: ACTIVITY_TEXT[e.action]?.(e) ?? e.action,
        failed: e.outcome === 'failure',
        device: deviceOf(e.userAgent),
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
