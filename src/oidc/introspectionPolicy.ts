// Who may learn about a token at the introspection endpoint (RFC 7662 section 4): its client, and
// the declared resource servers of the API it is for; nobody else.
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Catalogue } from './catalogue.ts';

/**
 * Every client learns about its own tokens (public ones included); an API's declared resource
 * servers about that API's access tokens (the cached catalogue entry, no query of its own); nobody
 * else about anything: { active: false }. Refresh tokens, and access tokens for no API
 * (userinfo), stay with the client they were issued to.
 */
export const introspectionPolicy =
  (catalogue: Pick<Catalogue, 'findByIdentifier'>) =>
  async (
    ctx: KoaContextWithOIDC,
    client: { clientId: string; clientAuthMethod?: string | undefined },
    token: { clientId?: unknown; kind: string },
  ): Promise<boolean> => {
    if (token.clientId === client.clientId) return true;
    if (token.kind === 'RefreshToken' || client.clientAuthMethod === 'none') return false;
    const audience = (token as { aud?: unknown }).aud;
    if (typeof audience !== 'string') return false;
    const api = await catalogue.findByIdentifier(audience);
    if (!api?.resourceServers.includes(client.clientId)) return false;
    // A token whose client is gone is no one's (and the library would fail on it).
    return (
      typeof token.clientId === 'string' &&
      (await ctx.oidc.provider.Client.find(token.clientId)) !== undefined
    );
  };
