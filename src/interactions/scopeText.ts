// What a scope means in words people read, the same on the consent page and the account page:
// OpenID Connect's identity scopes here, each API scope with the description its API gives it.
import type { Message } from '../i18n/translator.ts';
import type { Catalogue } from '../oidc/catalogue.ts';

/** What each OpenID Connect scope lets the application do: catalogue keys (src/i18n/locales). */
export const IDENTITY_TEXT: Record<string, string> = {
  openid: 'consent.identity.openid',
  profile: 'consent.identity.profile',
  email: 'consent.identity.email',
  offline_access: 'consent.identity.offline_access',
};

export interface DescribedScope {
  name: string;
  /** A catalogue key (identity scopes), or the API's own words as text. */
  description: Message;
}

/**
 * Identity scopes and API identifier -> scopes, described: identity first, then each API's
 * scopes as its catalogue entry words them (the raw name when it has no description).
 */
export async function describeScopes(
  catalogue: Catalogue,
  identity: string[],
  resources: Record<string, string[]>,
): Promise<DescribedScope[]> {
  const out: DescribedScope[] = identity.map((s) => ({
    name: s,
    description: IDENTITY_TEXT[s] ?? { text: s },
  }));
  for (const [resource, scopes] of Object.entries(resources)) {
    const api = await catalogue.findByIdentifier(resource);
    const described = new Map(api?.scopes.map((s) => [s.name, s.description]));
    for (const s of scopes) out.push({ name: s, description: { text: described.get(s) || s } });
  }
  return out;
}
