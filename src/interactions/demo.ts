// Development only: where the demo client of the quick start lands after a login, showing how
// to redeem the code. Not registered in production.
import Router from '@koa/router';
import type { Views } from '../http/views.ts';
import { renderPage } from './context.ts';

export function demoRoutes({
  views,
  issuer,
  clientId,
  resource,
}: {
  views: Views;
  issuer: string;
  clientId: () => Promise<string | undefined>;
  resource: string;
}): Router {
  const router = new Router();
  router.get('/demo/callback', async (ctx) => {
    const q = (name: string) =>
      typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : undefined;
    renderPage(ctx, views, 'demo-callback', {
      issuer,
      clientId: (await clientId()) ?? '',
      redirectUri: `${issuer}/demo/callback`,
      resource,
      code: q('code'),
      error: q('error'),
      description: q('error_description'),
    });
  });
  return router;
}
