// Which grant an authorization request is checked against: the one this browser session holds
// for the client, else the one the person gave the client in another session, so consent once
// given is not asked again (each session gets its own copy of that grant). Asking again stays the client's choice (prompt=consent), and a
// request with authorization_details (a payment) is always asked (oidc-provider's rar_prompt).
import type { KoaContextWithOIDC } from 'oidc-provider';

type Reusable = (accountId: string, clientId: string) => Promise<string | undefined>;

const promptsConsent = (prompt: unknown) =>
  typeof prompt === 'string' && prompt.split(' ').includes('consent');

/** oidc-provider's `loadExistingGrant`, extended with the person's grant from another session. */
export function rememberedGrant(reusable: Reusable | undefined) {
  return async (ctx: KoaContextWithOIDC) => {
    const { oidc } = ctx;
    const clientId = oidc.client!.clientId;
    const own = oidc.result?.consent?.grantId || oidc.session!.grantIdFor(clientId);
    const found = own ? await oidc.provider.Grant.find(own) : undefined;
    if (found || !reusable) return found;
    const accountId = oidc.session!.accountId;
    // prompt=consent: the client wants the person asked, so the page shows all it asks for.
    if (!accountId || promptsConsent(oidc.params!.prompt) || oidc.params!.authorization_details)
      return undefined;
    const id = await reusable(accountId, clientId);
    const given = id ? await oidc.provider.Grant.find(id) : undefined;
    if (!given) return undefined;
    // This session gets a grant of its own with what the person gave: sharing the other one
    // would let a logout there (which revokes its grants) end this device's tokens too.
    const copy = new oidc.provider.Grant({ accountId, clientId });
    if (given.openid) copy.openid = structuredClone(given.openid);
    if (given.resources) copy.resources = structuredClone(given.resources);
    if (given.rejected) copy.rejected = structuredClone(given.rejected);
    await copy.save();
    return copy;
  };
}
