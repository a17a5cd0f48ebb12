// PKCE (RFC 7636) per login client: required by default, optional only for a confidential
// OpenID Connect relying party of the older kind; checked on input and on stored metadata.
import { invalid } from '../errors.ts';

/** `required` (the default) or `optional`: the client may send no code_challenge. */
export type PkceSetting = 'required' | 'optional';
export const PKCE_SETTINGS: readonly PkceSetting[] = ['required', 'optional'];

/**
 * `pkce: 'optional'` in the metadata (absent: required): only for a confidential client of the
 * authorization_code grant; a public client has nothing else protecting its code. Whether the
 * client's profile allows it is the profile's decision (src/oidc/profiles.ts).
 */
export function pkceMetadata(
  input: { pkce?: PkceSetting | undefined; authMethod: string },
  login: boolean,
): Record<string, string> {
  const setting = input.pkce;
  if (setting === undefined || setting === 'required') return {};
  if (!PKCE_SETTINGS.includes(setting))
    throw invalid(`unknown PKCE setting ${setting} (allowed: ${PKCE_SETTINGS.join(', ')})`, 'pkce');
  if (!login) throw invalid('PKCE applies to authorization_code clients only', 'pkce');
  if (input.authMethod === 'none')
    throw invalid(
      'PKCE can be optional only for a confidential client: a public client always uses PKCE',
      'pkce',
    );
  return { pkce: 'optional' };
}

/** The same rule on stored metadata the protocol library loads: why `pkce` is not valid, if it is not. */
export function pkceMetadataProblem(
  value: unknown,
  metadata: Record<string, unknown> | undefined,
): string | undefined {
  if (value !== undefined && value !== 'optional')
    return 'pkce must be optional (or absent: required)';
  if (value === 'optional' && metadata?.token_endpoint_auth_method === 'none')
    return 'PKCE can be optional only for a confidential client: a public client always uses PKCE';
  return undefined;
}
