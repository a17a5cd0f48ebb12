// The port through which the web pages of a login (src/interactions/) drive the protocol:
// read the pending interaction, finish it, abort it. Keeps oidc-provider inside src/oidc/.
import type Koa from 'koa';
import type { OidcRuntime } from './provider.ts';

export interface PendingInteraction {
  uid: string;
  prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
  params: Record<string, unknown>;
  clientId: string;
  session: { accountId: string; acr?: string; amr?: string[]; loginTs?: number } | undefined;
  grantId: string | undefined;
  lastSubmission: Record<string, unknown> | undefined;
}

export class InteractionNotFound extends Error {
  override name = 'InteractionNotFound';
  /** Shown to the user as a 400 page by the web layer's error handler. */
  readonly status = 400;
  readonly expose = true;
}

export function createInteractionBridge(runtime: OidcRuntime) {
  return {
    /** The interaction of this browser (cookie-bound); throws InteractionNotFound otherwise. */
    async details(ctx: Koa.Context): Promise<PendingInteraction> {
      let i: Awaited<ReturnType<typeof runtime.provider.interactionDetails>>;
      try {
        i = await runtime.provider.interactionDetails(ctx.req, ctx.res);
      } catch {
        throw new InteractionNotFound(
          'This sign-in request has expired or was opened in another browser.',
        );
      }
      if (ctx.params?.uid !== undefined && ctx.params.uid !== i.uid) {
        throw new InteractionNotFound('This sign-in request does not belong to this browser.');
      }
      return {
        uid: i.uid,
        prompt: i.prompt as PendingInteraction['prompt'],
        params: i.params as Record<string, unknown>,
        clientId: String(i.params.client_id),
        session: i.session
          ? {
              accountId: i.session.accountId,
              acr: i.session.acr,
              amr: i.session.amr,
              loginTs: (i as unknown as { session: { loginTs?: number } }).session.loginTs,
            }
          : undefined,
        grantId: i.grantId,
        lastSubmission: i.lastSubmission as Record<string, unknown> | undefined,
      };
    },

    /** Records the result and sends the browser back to the authorization endpoint (303). */
    async finish(ctx: Koa.Context, result: Record<string, unknown>, merge = true): Promise<void> {
      const returnTo = await runtime.provider.interactionResult(ctx.req, ctx.res, result, {
        mergeWithLastSubmission: merge,
      });
      ctx.status = 303;
      ctx.redirect(returnTo);
    },

    /** Ends the interaction with an OAuth error returned to the client (e.g. access_denied). */
    abort(ctx: Koa.Context, error: string, description: string): Promise<void> {
      return this.finish(ctx, { error, error_description: description }, false);
    },
  };
}

export type InteractionBridge = ReturnType<typeof createInteractionBridge>;
