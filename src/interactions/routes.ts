// The web pages of a login. Until accounts exist, every sign-in is refused: the client gets
// access_denied, and no one is ever logged in without credentials.
import Router from '@koa/router';
import type { InteractionBridge } from '../oidc/bridge.ts';

export function interactionRoutes({ bridge }: { bridge: InteractionBridge }): Router {
  const router = new Router();
  router.get('/interaction/:uid', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    await bridge.details(ctx);
    await bridge.abort(ctx, 'access_denied', 'sign-in is not available on this server');
  });
  return router;
}
