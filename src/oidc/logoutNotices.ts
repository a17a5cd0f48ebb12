// Back-channel logout through the outbox (src/logout/): the library's own sending during the
// logout request is replaced by writing a notice, logout tokens are signed by the library when
// the worker sends them, and sessions ended outside a logout (an administrator, a password
// change, a disabled account) give the same notices.
import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { LogoutNotice } from '../logout/store.ts';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** What a stored Session carries that a logout needs. */
interface SessionPayload {
  accountId?: string;
  authorizations?: Record<string, { sid?: string }>;
}

type ClientWithLogout = {
  clientId: string;
  backchannelLogoutUri?: string;
};

/**
 * On each provider built: the logout request writes a notice per relying party instead of
 * posting to it (the person's logout never waits for one), and every ID token carries `sid`,
 * so relying parties can match the logout tokens and front-channel calls that name it.
 */
export function deferBackchannelLogout(
  provider: Provider,
  notify: (notices: LogoutNotice[]) => Promise<void>,
): void {
  const proto = provider.Client.prototype as unknown as {
    backchannelLogout(sub: string, sid: string): Promise<void>;
    includeSid(): boolean;
  };
  proto.backchannelLogout = async function (this: ClientWithLogout, sub, sid) {
    await notify([{ clientId: this.clientId, accountId: sub, sid, reason: 'logout' }]);
  };
  proto.includeSid = () => true;
}

/** The notices a set of ended sessions gives: one per client each session signed in to. */
export function noticesOfSessions(payloads: unknown[], reason: string): LogoutNotice[] {
  const notices: LogoutNotice[] = [];
  for (const p of payloads as SessionPayload[]) {
    if (!p?.accountId) continue;
    for (const [clientId, auth] of Object.entries(p.authorizations ?? {})) {
      notices.push({ clientId, accountId: p.accountId, sid: auth?.sid, reason });
    }
  }
  return notices;
}

/**
 * Signs a logout token for a notice with the provider serving now (its keys, the client's ID
 * token algorithm): typ logout+jwt, the back-channel logout event, sub, sid, a fresh jti, no
 * nonce. Undefined when the client is gone or has no back-channel logout URI.
 */
export function logoutTokenSigner(provider: () => Provider) {
  return async (notice: LogoutNotice): Promise<{ uri: string; token: string } | undefined> => {
    const current = provider();
    const client = (await current.Client.find(notice.clientId)) as
      | (ClientWithLogout & object)
      | undefined;
    if (!client?.backchannelLogoutUri) return undefined;
    const IdToken = current.IdToken as unknown as new (
      claims: object,
      opts: { client: unknown; ctx: undefined },
    ) => {
      mask: object;
      set(key: string, value: unknown): void;
      issue(opts: { use: 'logout' }): Promise<string>;
    };
    const token = new IdToken({ sub: notice.accountId }, { client, ctx: undefined });
    token.mask = { sub: null };
    token.set('events', { [BACKCHANNEL_EVENT]: {} });
    token.set('jti', randomUUID());
    if (notice.sid) token.set('sid', notice.sid);
    return { uri: client.backchannelLogoutUri, token: await token.issue({ use: 'logout' }) };
  };
}
