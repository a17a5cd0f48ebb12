// The logout confirmation and the signed-out page of RP-initiated logout. oidc-provider supplies
// the form (with its own anti-forgery field); these pages only present it. The signed-out page
// may also load the applications' front-channel logout pages (src/oidc/frontchannelLogout.ts).
import type Koa from 'koa';
import type { Views } from '../http/views.ts';
import { renderPage } from './context.ts';

export function logoutPages(views: Views) {
  return {
    confirm(ctx: Koa.Context, form: string, clientName: string | undefined): void {
      renderPage(ctx, views, 'logout', { form, clientName });
    },
    done(ctx: Koa.Context, clientName: string | undefined): void {
      renderPage(ctx, views, 'logged-out', { clientName });
    },
    /**
     * The signed-out page with an iframe per front-channel logout URI (and the CSP letting
     * exactly their origins be framed), then on to `continueTo` when there is one.
     */
    frontchannel(
      ctx: Koa.Context,
      page: { frames: string[]; continueTo: string | undefined; clientName: string | undefined },
    ): void {
      const origins = [...new Set(page.frames.map((f) => new URL(f).origin))];
      const csp = ctx.response.get('Content-Security-Policy');
      if (csp) ctx.set('Content-Security-Policy', `${csp}; frame-src ${origins.join(' ')}`);
      renderPage(ctx, views, 'logged-out', {
        clientName: page.clientName,
        frames: page.frames,
        continueTo: page.continueTo,
      });
    },
  };
}

export type LogoutPages = ReturnType<typeof logoutPages>;
