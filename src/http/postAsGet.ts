// OpenID Connect Core §3.1.2.1 (and RP-Initiated Logout §2): the authorization and logout
// endpoints accept POST as well as GET. A form POST there is served as the GET of the same
// parameters, so the protocol library's GET handling (and its checks) apply unchanged, and the
// session cookie keeps SameSite=Lax: a cross-site POST carries no session, so the person signs
// in again (prompt=none answers login_required) rather than a form on another site riding it.
import type Koa from 'koa';
import { PageError } from './pageError.ts';

/** The endpoints served so (oidc-provider's default routes). */
export const POST_AS_GET_PATHS = new Set(['/auth', '/session/end']);
/** The protocol library's own limit on a form body. */
const LIMIT = 56 * 1024;
const FORM = 'application/x-www-form-urlencoded';

async function readForm(req: Koa.Request['req']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > LIMIT)
      throw new PageError(413, 'error.requestTooLarge', undefined, { limit: String(LIMIT) });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Wraps the protocol middleware: a form POST to those endpoints is handled as their GET. */
export function postAsGet(protocol: Koa.Middleware): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !POST_AS_GET_PATHS.has(ctx.path)) return protocol(ctx, next);
    if (ctx.is(FORM) !== FORM)
      throw new PageError(415, 'error.sendAsForm', undefined, { type: FORM });
    if (ctx.querystring) throw new PageError(400, 'error.queryAndBody');
    const body = await readForm(ctx.req);
    ctx.method = 'GET';
    ctx.querystring = body;
    try {
      await protocol(ctx, next);
    } finally {
      ctx.method = 'POST';
    }
  };
}
