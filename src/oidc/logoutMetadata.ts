// The client metadata of logout to relying parties: where back-channel logout tokens are posted
// (OpenID Connect Back-Channel Logout 1.0) and which page the signed-out page loads in an iframe
// (Front-Channel Logout 1.0). Both always carry the session id (`*_session_required: true`).
import { invalid } from '../errors.ts';

export interface LogoutUris {
  /** Where logout tokens are POSTed; null: none. */
  backchannelLogoutUri: string | null;
  /** The page loaded in an iframe of the signed-out page (with iss and sid); null: none. */
  frontchannelLogoutUri: string | null;
}

const FIELDS = {
  backchannelLogoutUri: ['backchannel_logout_uri', 'backchannel_logout_session_required'],
  frontchannelLogoutUri: ['frontchannel_logout_uri', 'frontchannel_logout_session_required'],
} as const;

/** Every metadata member these settings own (to replace them as a whole). */
export const LOGOUT_METADATA_MEMBERS: string[] = Object.values(FIELDS).flat();

/** https, or http on loopback (as redirect URIs); absolute and without a fragment. */
export function checkLogoutUri(uri: unknown, field: string): string {
  const url = typeof uri === 'string' && uri.length <= 2000 ? URL.parse(uri) : null;
  if (!url || (uri as string).includes('#'))
    throw invalid(`the logout URI ${String(uri)} must be absolute and have no fragment`, field);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw invalid(`the logout URI ${uri} must use https (http is allowed only on loopback)`, field);
  return uri as string;
}

/** The metadata of these settings, checked; only clients that sign people in may have them. */
export function logoutMetadata(
  input: Partial<Record<keyof LogoutUris, string | null | undefined>>,
  login: boolean,
): Record<string, unknown> {
  const metadata: Record<string, unknown> = {};
  for (const [field, [uriMember, sessionMember]] of Object.entries(FIELDS)) {
    const uri = input[field as keyof LogoutUris];
    if (uri === undefined || uri === null) continue;
    if (!login)
      throw invalid('logout URIs only make sense with the authorization_code grant', field);
    metadata[uriMember] = checkLogoutUri(uri, field);
    metadata[sessionMember] = true;
  }
  return metadata;
}

/** The settings of stored metadata. */
export function logoutUrisOf(metadata: Record<string, unknown>): LogoutUris {
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    backchannelLogoutUri: text(metadata.backchannel_logout_uri),
    frontchannelLogoutUri: text(metadata.frontchannel_logout_uri),
  };
}
