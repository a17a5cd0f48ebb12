// Routes of the web pages a person sees: the steps of a login (/interaction/:uid/...) and the
// account page. Every form posts back with a CSRF token; every page is no-store.
import Router from '@koa/router';
import { accountPages } from './account.ts';
import { consentPage } from './consent.ts';
import { CsrfError, type InteractionDeps } from './context.ts';
import { readForm } from './forms.ts';
import { loginPage } from './login.ts';
import { secondFactorSteps } from './secondFactor.ts';

export function interactionRoutes(deps: InteractionDeps): Router {
  const router = new Router();
  const steps = secondFactorSteps(deps);
  const login = loginPage(deps, steps);
  const consent = consentPage(deps);
  const account = accountPages(deps);

  router.get('/interaction/:uid', async (ctx) => {
    const i = await deps.bridge.details(ctx);
    if (i.prompt.name === 'login') {
      if (i.assurance.unmet) {
        return deps.bridge.abort(
          ctx,
          'unmet_authentication_requirements',
          'none of the requested acr values is supported',
        );
      }
      const state = await steps.state(i);
      return state ? steps.next(ctx, i, state) : login.show(ctx, i);
    }
    if (i.prompt.name === 'consent') return consent.show(ctx, i);
    await deps.bridge.abort(ctx, 'interaction_required', `unsupported prompt ${i.prompt.name}`);
  });
  router.post('/interaction/:uid/login', login.submit);
  router.post('/interaction/:uid/passkey/options', login.passkeyOptions);
  router.post('/interaction/:uid/passkey', login.passkey);
  router.post('/interaction/:uid/totp', steps.submitTotp);
  router.post('/interaction/:uid/recovery', steps.submitRecoveryCode);
  router.post('/interaction/:uid/webauthn/options', steps.webauthnOptions);
  router.post('/interaction/:uid/webauthn', steps.submitWebauthn);
  router.post('/interaction/:uid/enrol/totp', steps.enrol.submitTotp);
  router.post('/interaction/:uid/enrol/webauthn/options', steps.enrol.webauthnOptions);
  router.post('/interaction/:uid/enrol/webauthn', steps.enrol.submitWebauthn);
  router.post('/interaction/:uid/continue', steps.enrol.continue);
  router.post('/interaction/:uid/consent', consent.submit);
  router.post('/interaction/:uid/abort', async (ctx) => {
    const form = await readForm(ctx);
    const i = await deps.bridge.details(ctx);
    if (!deps.csrf.verify(i.uid, 'abort', form._csrf)) throw new CsrfError();
    await deps.progress.clear(i.uid);
    await deps.bridge.abort(ctx, 'access_denied', 'the user cancelled the sign-in');
  });

  router.get('/account', (ctx) => account.show(ctx));
  router.get('/account/callback', (ctx) => account.callback(ctx));
  router.post('/account/clients/:clientId/revoke', (ctx) => account.revoke(ctx));
  router.post('/account/sign-out-everywhere', (ctx) => account.signOutEverywhere(ctx));
  router.post('/account/consents/:id/revoke', account.revokeConsent);
  router.post('/account/sessions/:uid/end', account.endSession);
  router.post('/account/reauth', account.factors.reauth);
  router.get('/account/totp', account.factors.totpPage);
  router.post('/account/totp', account.factors.addTotp);
  router.post('/account/totp/remove', account.factors.removeTotp);
  router.get('/account/webauthn', account.factors.webauthnPage);
  router.post('/account/webauthn/options', account.factors.webauthnOptions);
  router.post('/account/webauthn', account.factors.addWebauthn);
  router.post('/account/webauthn/:id/remove', account.factors.removeWebauthn);
  router.post('/account/recovery-codes', account.factors.regenerateRecoveryCodes);
  return router;
}
