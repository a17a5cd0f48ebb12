// The account page: what a signed-in person has allowed which application, with revocation
// (which ends the grant and every token issued from it). Signing in to it goes through the
// ordinary login flow, as the built-in first-party client "portcullis-account".
import { createHash, randomBytes } from 'node:crypto';
import type Koa from 'koa';
import type { BrowserSession } from '../oidc/bridge.ts';
import { accountConsents } from './accountConsents.ts';
import { accountFactorPages } from './accountFactors.ts';
import { accountSessions } from './accountSessions.ts';
import { CsrfError, type InteractionDeps, renderPage, requestOrigin } from './context.ts';
import { readForm } from './forms.ts';
import { describeScopes, IDENTITY_TEXT } from './scopeText.ts';

const IDENTITY_ORDER = Object.keys(IDENTITY_TEXT);

export const ACCOUNT_CLIENT_ID = 'portcullis-account';
export const accountCallbackUrl = (issuer: string) => `${issuer}/account/callback`;

/** ?notice= values and their catalogue keys (src/i18n/locales). */
const NOTICES: Record<string, string> = {
  revoked: 'account.notice.revoked',
  reauth: 'account.notice.reauth',
  'factor-added': 'account.notice.factorAdded',
  'factor-removed': 'account.notice.factorRemoved',
  'consent-revoked': 'account.notice.consentRevoked',
  'consent-inactive': 'account.notice.consentInactive',
  'device-signed-out': 'account.notice.deviceSignedOut',
};

export function accountPages(deps: InteractionDeps) {
  const { views, csrf, bridge, grants, accounts, config } = deps;

  /** Sends the browser through a login for the account client; it comes back to /account. */
  function startLogin(ctx: Koa.Context, extra: Record<string, string> = {}): void {
    // Its client is public, which FAPI 2.0 forbids: under FAPI_PROFILE=2.0 it does not exist.
    if (config.fapiProfile) {
      renderPage(
        ctx,
        views,
        'error',
        {
          title: 'account.unavailableTitle',
          message: 'account.unavailable',
          code: 'not_found',
        },
        404,
      );
      return;
    }
    const url = new URL(`${config.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: accountCallbackUrl(config.issuer),
      // The code is never redeemed: signing in only establishes the session cookie. PKCE is
      // still required of every client, so a challenge is sent for a verifier nobody keeps.
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
      state: randomBytes(16).toString('base64url'),
      ...extra,
    }).toString();
    ctx.status = 303;
    ctx.redirect(url.href);
  }

  const factorPages = accountFactorPages(deps, (ctx, extra) => startLogin(ctx, extra));
  const consentRows = accountConsents(deps);
  const sessionRows = accountSessions(deps);

  /**
   * One row per application, its scopes described as the consent page described them: a person
   * thinks of "what Budget Planner may do", not of grants or scope names.
   */
  async function allowedApps(accountId: string) {
    const byClient = new Map<
      string,
      { since: Date | undefined; identity: Set<string>; resources: Record<string, Set<string>> }
    >();
    for (const g of await grants.list(accountId)) {
      if (g.clientId === ACCOUNT_CLIENT_ID) continue;
      const row = byClient.get(g.clientId) ?? {
        since: g.grantedAt,
        identity: new Set<string>(),
        resources: {},
      };
      for (const s of g.oidcScopes) row.identity.add(s);
      for (const [r, scopes] of Object.entries(g.resources)) {
        row.resources[r] ??= new Set<string>();
        for (const s of scopes) row.resources[r].add(s);
      }
      if (g.grantedAt && (!row.since || g.grantedAt < row.since)) row.since = g.grantedAt;
      byClient.set(g.clientId, row);
    }
    const rows = [];
    for (const [clientId, row] of byClient) {
      const client = await bridge.client(clientId);
      const resources = Object.fromEntries(
        Object.entries(row.resources).map(([r, set]) => [r, [...set].sort()]),
      );
      rows.push({
        clientId,
        clientName: client?.name ?? clientId,
        grantedAt: row.since?.toISOString().slice(0, 10) ?? '',
        scopes: await describeScopes(
          deps.catalogue,
          IDENTITY_ORDER.filter((s) => row.identity.has(s)),
          resources,
        ),
      });
    }
    return rows;
  }

  async function requireSession(ctx: Koa.Context): Promise<BrowserSession | undefined> {
    const session = await bridge.session(ctx);
    if (!session) startLogin(ctx);
    return session;
  }

  return {
    factors: factorPages,
    revokeConsent: consentRows.revoke,
    endSession: sessionRows.end,

    async show(ctx: Koa.Context): Promise<void> {
      const session = await requireSession(ctx);
      if (!session) return;
      const user = await accounts.get(session.accountId);
      const notice = typeof ctx.query.notice === 'string' ? NOTICES[ctx.query.notice] : undefined;
      renderPage(ctx, views, 'account', {
        email: user?.email ?? '',
        grants: await allowedApps(session.accountId),
        consents: await consentRows.view(ctx, session),
        sessions: await sessionRows.view(session),
        activity: await sessionRows.activity(session),
        notice,
        csrf: csrf.token(session.uid, 'account'),
        factors: await factorPages.view(session),
      });
    },

    /** Where the account client's login returns: the session now exists. */
    callback(ctx: Koa.Context): void {
      if (typeof ctx.query.error === 'string') {
        // The description is the protocol's technical English: a detail under the page's words.
        const detail =
          typeof ctx.query.error_description === 'string' ? ctx.query.error_description : undefined;
        renderPage(
          ctx,
          views,
          'error',
          {
            title: 'account.signInIncompleteTitle',
            message: 'account.signInIncomplete',
            detail,
            code: ctx.query.error,
          },
          400,
        );
        return;
      }
      ctx.status = 303;
      ctx.redirect('/account');
    },

    /**
     * "Sign out everywhere": every session of the person (on every device) ends, with every grant
     * and token; the applications they were signed in to are told (back-channel logout).
     */
    async signOutEverywhere(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const session = await bridge.session(ctx);
      if (!session || !csrf.verify(session.uid, 'account', form._csrf)) throw new CsrfError();
      await grants.revokeAll(session.accountId, 'everywhere');
      await deps.record({
        actor: { type: 'user', id: session.accountId },
        action: 'logout.success',
        target: { type: 'user', id: session.accountId },
        outcome: 'success',
        ...requestOrigin(ctx),
        details: { everywhere: true },
      });
      renderPage(ctx, views, 'logged-out', { everywhere: true });
    },

    async revoke(ctx: Koa.Context): Promise<void> {
      const form = await readForm(ctx);
      const session = await bridge.session(ctx);
      if (!session || !csrf.verify(session.uid, 'account', form._csrf)) throw new CsrfError();
      const clientId = String(ctx.params.clientId);
      const revoked = await grants.revokeClient(session.accountId, clientId);
      if (revoked > 0) {
        await deps.record({
          actor: { type: 'user', id: session.accountId },
          action: 'consent.revoked',
          target: { type: 'client', id: clientId },
          outcome: 'success',
          ...requestOrigin(ctx),
          details: { grants: revoked },
        });
      }
      ctx.status = 303;
      ctx.redirect(revoked > 0 ? '/account?notice=revoked' : '/account');
    },
  };
}

export type AccountPages = ReturnType<typeof accountPages>;
