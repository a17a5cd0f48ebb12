// What a scope means in words people read, the same on the consent page and the account page:
// OpenID Connect's identity scopes here, each API scope with the description its API gives it.
import type { Catalogue } from '../oidc/catalogue.ts';

export const IDENTITY_TEXT: Record<string, string> = {
  openid: 'Know who you are (your account identifier)',
  profile: 'See your name',
  email: 'See your email address',
  offline_access: 'Keep access when you are not using it (until you revoke it)',
};

export interface DescribedScope {
  name: string;
  description: string;
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
    description: IDENTITY_TEXT[s] ?? s,
  }));
  for (const [resource, scopes] of Object.entries(resources)) {
    const api = await catalogue.findByIdentifier(resource);
    const described = new Map(api?.scopes.map((s) => [s.name, s.description]));
    for (const s of scopes) out.push({ name: s, description: described.get(s) || s });
  }
  return out;
}
