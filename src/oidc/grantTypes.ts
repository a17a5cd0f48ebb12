// The grant types a client may be registered with, and how each is named: the short name the CLI,
// admin API and views use, and the URN oidc-provider's `grant_types` metadata holds.
import { CIBA_GRANT_TYPE } from './cibaClients.ts';

/** Token exchange (RFC 8693): a resource server exchanging a person's token (src/oidc/tokenExchange/). */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** The device authorization grant (RFC 8628) as registered: its URN, `device_code` for short. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export type GrantType =
  | 'authorization_code'
  | 'client_credentials'
  | 'refresh_token'
  | 'device_code'
  | typeof TOKEN_EXCHANGE
  | typeof CIBA_GRANT_TYPE;

export const GRANT_TYPES: readonly GrantType[] = [
  'authorization_code',
  'client_credentials',
  'refresh_token',
  'device_code',
  TOKEN_EXCHANGE,
  CIBA_GRANT_TYPE,
];
/** Short names the CLI accepts for the long grant type URNs. */
export const GRANT_TYPE_ALIASES: Readonly<Record<string, GrantType>> = {
  'token-exchange': TOKEN_EXCHANGE,
  ciba: CIBA_GRANT_TYPE,
};
/** A grant type's short name, whether given short or as its registered URN (metadata, RFC 7591). */
export const grantTypeName = (g: string): string => (g === DEVICE_CODE_GRANT ? 'device_code' : g);
/** A grant type as oidc-provider's `grant_types` metadata names it. */
export const grantTypeMetadata = (g: GrantType): string =>
  g === 'device_code' ? DEVICE_CODE_GRANT : g;
