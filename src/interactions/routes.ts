// Routes of the web pages a person sees: the steps of a login (/interaction/:uid/...) and the
// account page. Every form posts back with a CSRF token; every page is no-store.
import Router from '@koa/router';
import { accountPages } from './account.ts';
import { consentPage } from './consent.ts';
import { CsrfError, type InteractionDeps } from './context.ts';
import { readForm } from './forms.ts';
import { loginPage } from './login.ts';

export function interactionRoutes(deps: InteractionDeps): Router {
  const router = new Router();
  const login = loginPage(deps);
  const consent = consentPage(deps);
  const account = accountPages(deps);

  router.get('/interaction/:uid', async (ctx) => {
    const i = await deps.bridge.details(ctx);
    if (i.prompt.name === 'login') return login.show(ctx, i);
    if (i.prompt.name === 'consent') return consent.show(ctx, i);
    await deps.bridge.abort(ctx, 'interaction_required', `unsupported prompt ${i.prompt.name}`);
  });
  router.post('/interaction/:uid/login', login.submit);
  router.post('/interaction/:uid/consent', consent.submit);
  router.post('/interaction/:uid/abort', async (ctx) => {
    const form = await readForm(ctx);
    const i = await deps.bridge.details(ctx);
    if (!deps.csrf.verify(i.uid, 'abort', form._csrf)) throw new CsrfError();
    await deps.bridge.abort(ctx, 'access_denied', 'the user cancelled the sign-in');
  });

  router.get('/account', (ctx) => account.show(ctx));
  router.get('/account/callback', (ctx) => account.callback(ctx));
  router.post('/account/clients/:clientId/revoke', (ctx) => account.revoke(ctx));
  return router;
}
