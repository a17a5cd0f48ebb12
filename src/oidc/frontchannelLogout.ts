// Front-Channel Logout 1.0, which oidc-provider 9 does not offer: after a person signs out of
// every application (the logout confirmation's "Sign out"), the page they see loads each
// signed-in client's frontchannel_logout_uri in an iframe, with `iss` and `sid`, before going on
// to the client's post-logout redirect URI (or showing the signed-out page).
import type Koa from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

export interface FrontchannelPage {
  /** The frontchannel logout URIs to load, each with iss and sid. */
  frames: string[];
  /** Where the person goes next (a post-logout redirect URI); undefined: the signed-out page. */
  continueTo: string | undefined;
  clientName: string | undefined;
}

interface EndedSession {
  destroyed?: boolean;
  authorizations?: Record<string, { sid?: string }>;
}

/** The frontchannel logout URIs of the clients a destroyed session had signed in to. */
async function framesOf(ctx: KoaContextWithOIDC, session: EndedSession): Promise<string[]> {
  const frames: string[] = [];
  for (const [clientId, auth] of Object.entries(session.authorizations ?? {})) {
    const client = (await ctx.oidc.provider.Client.find(clientId)) as
      | { frontchannel_logout_uri?: unknown }
      | undefined;
    const uri = client?.frontchannel_logout_uri;
    const url = typeof uri === 'string' ? URL.parse(uri) : null;
    if (!url) continue;
    url.searchParams.set('iss', ctx.oidc.issuer);
    if (auth?.sid) url.searchParams.set('sid', auth.sid);
    frames.push(url.href);
  }
  return frames;
}

/**
 * Wraps the provider's middleware: a logout confirmed for every client whose clients include
 * some with a frontchannel logout URI answers with the page `render` draws instead of the
 * redirect (which that page then continues to).
 */
export function withFrontchannelLogout(
  inner: Koa.Middleware,
  render: (ctx: Koa.Context, page: FrontchannelPage) => void,
): Koa.Middleware {
  return async (ctx, next) => {
    await inner(ctx, next);
    const oidc = (ctx as unknown as KoaContextWithOIDC).oidc;
    if (ctx.method !== 'POST' || ctx.status !== 303 || oidc?.route !== 'end_session_confirm')
      return;
    const session = oidc.session as unknown as EndedSession | undefined;
    if (!session?.destroyed) return;
    const frames = await framesOf(ctx as unknown as KoaContextWithOIDC, session);
    if (frames.length === 0) return;
    const location = ctx.response.get('Location');
    const own = location.startsWith(oidc.urlFor('end_session_success'));
    ctx.remove('Location');
    render(ctx, {
      frames,
      continueTo: own || !location ? undefined : location,
      clientName: oidc.client?.clientName,
    });
  };
}
