// Revoking a consent ends what it authorised: the consent becomes 'revoked' and its grant, with
// every token and code issued from it, is revoked too (so refresh tokens stop working). The one
// place the account page, the admin API and the CLI revoke a consent through.
import type { Consent, Consents } from './consents.ts';

export interface Revoked {
  consent: Consent;
  /** False when it was revoked already (nothing changed, nothing to record). */
  changed: boolean;
  /** Artefacts of its grant deleted (the grant, refresh and opaque access tokens, codes). */
  tokensRevoked: number;
}

export async function revokeConsent(
  deps: { consents: Consents; grants: { revokeGrant(grantId: string): Promise<number> } },
  id: string,
  by: { type: 'user' | 'admin'; id: string },
  /** A person revokes only their own. */
  accountId?: string,
): Promise<Revoked> {
  const before = await deps.consents.find(id);
  const consent = await deps.consents.revoke(id, by, accountId);
  if (before?.status === 'revoked') return { consent, changed: false, tokensRevoked: 0 };
  const tokensRevoked = consent.grantId ? await deps.grants.revokeGrant(consent.grantId) : 0;
  return { consent, changed: true, tokensRevoked };
}

/** The details of a consent.revoked audit event. */
export const revokedDetails = (r: Revoked) => ({
  types: r.consent.types,
  grants: r.consent.grantId ? 1 : 0,
  tokens: r.tokensRevoked,
});
