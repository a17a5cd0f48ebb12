// The logout confirmation and the signed-out page of RP-initiated logout. oidc-provider supplies
// the form (with its own anti-forgery field); these pages only present it.
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
  };
}

export type LogoutPages = ReturnType<typeof logoutPages>;
