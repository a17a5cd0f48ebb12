// The rules every client obeys however it is registered (CLI, admin API, dynamic registration):
// grant types, authentication method, redirect URIs, keys and API access, turned into the
// oidc-provider metadata Portcullis stores. One function, so no path can register a looser client.
import { invalid } from '../errors.ts';
import { type RateLimit, rateLimitMetadata, rateLimitProblem } from '../limits/rateLimit.ts';
import type { Catalogue } from './catalogue.ts';
import { type BackchannelInput, backchannelMetadata, CIBA_GRANT_TYPE } from './cibaClients.ts';
import {
  GRANT_TYPES,
  type GrantType,
  grantTypeMetadata,
  grantTypeName,
  TOKEN_EXCHANGE,
} from './grantTypes.ts';
import { logoutMetadata } from './logoutMetadata.ts';
import { type PkceSetting, pkceMetadata } from './pkceSetting.ts';
import {
  addProfileDemands,
  type ProfileName,
  parseProfileName,
  profileOf,
  profileViolations,
  type ServerProfileSetting,
} from './profiles.ts';
import {
  RESPONSE_SIGNING_FIELDS,
  type ResponseSigningInput,
  responseSigningMetadata,
} from './responseSigning.ts';
import {
  type SenderConstraint,
  senderConstraintMetadata,
  type TlsSubjectKind,
  tlsSubjectMetadata,
} from './tokenBinding.ts';

export type AuthMethod =
  | 'private_key_jwt'
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'none'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth';

export const AUTH_METHODS: readonly AuthMethod[] = [
  'private_key_jwt',
  'client_secret_basic',
  'client_secret_post',
  'none',
  'tls_client_auth',
  'self_signed_tls_client_auth',
];
export const SECRET_METHODS = new Set<AuthMethod>(['client_secret_basic', 'client_secret_post']);
/** Methods that authenticate with the client's keys (a JWKS): signed assertions or certificates in x5c. */
const KEYED_METHODS = new Set<AuthMethod>([
  'private_key_jwt',
  'self_signed_tls_client_auth',
  'tls_client_auth',
]);
/** Scopes of OpenID Connect itself that every login client may ask for. */
export const LOGIN_SCOPES = ['openid', 'profile', 'email'];
/** JWK members that only a private or symmetric key has. */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * What an administrator decides about a client. The response signing algorithms (idTokenAlg,
 * userinfoAlg, authorizationAlg, introspectionAlg) are among the key ring's (src/oidc/responseSigning.ts).
 */
export interface ClientInput extends ResponseSigningInput {
  name: string;
  grantTypes: GrantType[];
  redirectUris?: string[] | undefined;
  postLogoutRedirectUris?: string[] | undefined;
  authMethod: AuthMethod;
  jwks?: { keys: Record<string, unknown>[] } | undefined;
  jwksUri?: string | undefined;
  /** API identifier -> the scopes of that API this client may ask for. */
  apiAccess: Record<string, string[]>;
  firstParty?: boolean | undefined;
  /** Lowest assurance level a login for this client must reach (1-3; default 1). */
  minAssuranceLevel?: 1 | 2 | 3 | undefined;
  /** tls_client_auth: the certificate subject it must present (exactly one). */
  tlsSubject?: { kind: TlsSubjectKind; value: string } | undefined;
  /** Tokens bound to a DPoP key or to its TLS client certificate; default: bearer tokens. */
  senderConstraint?: SenderConstraint | undefined;
  /** Its own request limit at the token, introspection, revocation, PAR and admin endpoints (default: CLIENT_RATE_LIMIT). */
  rateLimit?: RateLimit | null | undefined;
  /** Its profile (src/oidc/profiles.ts); default: `default`, or `fapi2` under FAPI_PROFILE=2.0. */
  profile?: ProfileName | undefined;
  /** Authorization requests only as a request object signed with one of its keys (JAR, at PAR). */
  requireSignedRequestObject?: boolean | undefined;
  /** PKCE required (default) or optional: confidential login clients only, never fapi2 ones. */
  pkce?: PkceSetting | undefined;
  /** Back-Channel Logout 1.0: where logout tokens are posted (src/oidc/logoutMetadata.ts). */
  backchannelLogoutUri?: string | null | undefined;
  /** Front-Channel Logout 1.0: the page the signed-out page loads in an iframe. */
  frontchannelLogoutUri?: string | null | undefined;
  /** Backchannel authentication (CIBA): how tokens are delivered, and its signed requests. */
  backchannel?: BackchannelInput | undefined;
}

/** Checks one redirect URI: absolute, no fragment, https except on loopback. */
export function validateRedirectUri(uri: string, field = 'redirectUris'): string {
  const url = typeof uri === 'string' ? URL.parse(uri) : null;
  if (!url || uri.includes('#'))
    throw invalid(`redirect URI ${uri} must be absolute and have no fragment`, field);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw invalid(`redirect URI ${uri} must use https (http is allowed only on loopback)`, field);
  }
  return uri;
}

const unique = <T>(values: T[]): T[] => [...new Set(values)];

function checkGrantsAndMethod(input: ClientInput): GrantType[] {
  const grantTypes = unique((input.grantTypes ?? []).map((g) => grantTypeName(g) as GrantType));
  if (grantTypes.length === 0)
    throw invalid('a client needs at least one grant type', 'grantTypes');
  for (const g of grantTypes) {
    if (!GRANT_TYPES.includes(g))
      throw invalid(`unknown grant type ${g} (allowed: ${GRANT_TYPES.join(', ')})`, 'grantTypes');
  }
  if (!AUTH_METHODS.includes(input.authMethod)) {
    throw invalid(
      `unknown authentication method ${input.authMethod} (allowed: ${AUTH_METHODS.join(', ')})`,
      'authMethod',
    );
  }
  if (
    grantTypes.includes('refresh_token') &&
    !grantTypes.includes('authorization_code') &&
    !grantTypes.includes('device_code') &&
    !grantTypes.includes(CIBA_GRANT_TYPE)
  ) {
    throw invalid(
      'refresh_token needs the authorization_code, device_code or CIBA grant',
      'grantTypes',
    );
  }
  if (
    input.authMethod === 'none' &&
    grantTypes.some((g) => g === 'client_credentials' || g === CIBA_GRANT_TYPE)
  ) {
    throw invalid(
      'a public client (no authentication) cannot use client_credentials or CIBA',
      'grantTypes',
    );
  }
  if (input.authMethod === 'none' && grantTypes.includes(TOKEN_EXCHANGE)) {
    throw invalid('a public client (no authentication) cannot exchange tokens', 'grantTypes');
  }
  return grantTypes;
}

function checkRedirects(input: ClientInput, login: boolean) {
  const redirectUris = unique(input.redirectUris ?? []).map((u) => validateRedirectUri(u));
  const postLogout = unique(input.postLogoutRedirectUris ?? []).map((u) =>
    validateRedirectUri(u, 'postLogoutRedirectUris'),
  );
  if (login && redirectUris.length === 0)
    throw invalid('authorization_code clients need at least one redirect URI', 'redirectUris');
  if (!login && (redirectUris.length || postLogout.length)) {
    throw invalid(
      'redirect URIs only make sense with the authorization_code grant',
      'redirectUris',
    );
  }
  return { redirectUris, postLogout };
}

function checkKeys(input: ClientInput): void {
  const certificates = input.authMethod === 'self_signed_tls_client_auth';
  if ((input.authMethod === 'private_key_jwt' || certificates) && !input.jwks && !input.jwksUri) {
    throw invalid(`${input.authMethod} needs a JWKS or a JWKS URI`, 'jwks');
  }
  if (!KEYED_METHODS.has(input.authMethod) && (input.jwks || input.jwksUri)) {
    throw invalid(
      'a JWKS is only used with private_key_jwt, tls_client_auth or self_signed_tls_client_auth',
      'jwks',
    );
  }
  if (input.jwks && input.jwksUri) throw invalid('give a JWKS or a JWKS URI, not both', 'jwks');
  if (input.jwksUri && URL.parse(input.jwksUri)?.protocol !== 'https:')
    throw invalid('the JWKS URI must use https', 'jwksUri');
  if (input.jwks) {
    if (!Array.isArray(input.jwks.keys) || input.jwks.keys.length === 0)
      throw invalid('a JWKS needs at least one key', 'jwks');
    for (const key of input.jwks.keys) {
      if (PRIVATE_JWK_MEMBERS.some((m) => m in key))
        throw invalid("a JWKS holds the client's public keys only", 'jwks');
      // RFC 8705 §2.2: the certificate is registered as the first x5c entry of one of its keys.
      if (certificates && !(Array.isArray(key.x5c) && key.x5c.length > 0))
        throw invalid(
          'self_signed_tls_client_auth needs each key of the JWKS to carry its certificate (x5c)',
          'jwks',
        );
    }
  }
}

/** A client that must sign its requests needs the login grant and keys to verify them with. */
function checkSignedRequestObjects(input: ClientInput, login: boolean): void {
  if (!login)
    throw invalid(
      'signed request objects are for authorization_code clients',
      'requireSignedRequestObject',
    );
  if (!input.jwks && !input.jwksUri)
    throw invalid(
      "signed request objects need the client's public keys (a JWKS or a JWKS URI)",
      'requireSignedRequestObject',
    );
}

/** API identifier -> scopes, each API registered and each scope one it defines. */
export async function checkApiAccess(
  catalogue: Catalogue,
  access: Record<string, string[]>,
): Promise<Record<string, string[]>> {
  const apiAccess: Record<string, string[]> = {};
  for (const [identifier, scopes] of Object.entries(access)) {
    const api = await catalogue.findByIdentifier(identifier);
    if (!api) throw invalid(`no API with identifier ${identifier} is registered`, 'apiAccess');
    const defined = new Set(api.scopes.map((s) => s.name));
    const requested = unique(scopes);
    for (const s of requested) {
      if (!defined.has(s))
        throw invalid(`API ${identifier} does not define the scope ${s}`, 'apiAccess');
    }
    if (requested.length === 0)
      throw invalid(`choose at least one scope of ${identifier}`, 'apiAccess');
    apiAccess[identifier] = requested.sort();
  }
  return apiAccess;
}

/**
 * Validates a client definition and returns the oidc-provider metadata it is stored as (without
 * client_id and secret). Throws DomainError('invalid_input') naming the field at fault.
 */
export async function clientMetadata(
  input: ClientInput,
  deps: {
    catalogue: Catalogue;
    /** The default algorithm of the key ring. */
    idTokenAlg: string;
    /** Every algorithm of the key ring, the default first (default: the default alone). */
    ringAlgs?: readonly string[] | undefined;
    serverProfile?: ServerProfileSetting;
  },
): Promise<Record<string, unknown>> {
  if (typeof input.name !== 'string' || !input.name.trim())
    throw invalid('a client needs a name', 'name');
  const grantTypes = checkGrantsAndMethod(input);
  // A person signs in for the client: in a browser it redirects (authorization_code), or on
  // Portcullis' device page (device_code, RFC 8628: no redirect URI).
  const redirects = grantTypes.includes('authorization_code');
  const login = redirects || grantTypes.includes('device_code');
  const { redirectUris, postLogout } = checkRedirects(input, redirects);
  const logout = logoutMetadata(input, redirects);
  const ciba = grantTypes.includes(CIBA_GRANT_TYPE);
  checkKeys(input);
  const apiAccess = await checkApiAccess(deps.catalogue, input.apiAccess ?? {});
  if (!login && !ciba && Object.keys(apiAccess).length === 0) {
    throw invalid('a client_credentials client needs access to at least one API', 'apiAccess');
  }
  const level = input.minAssuranceLevel ?? 1;
  if (![1, 2, 3].includes(level)) {
    throw invalid('the minimum assurance level must be 1, 2 or 3', 'minAssuranceLevel');
  }

  const rateLimitError = input.rateLimit ? rateLimitProblem(input.rateLimit) : undefined;
  if (rateLimitError) throw invalid(`rate limit: ${rateLimitError}`, 'rateLimit');

  // `scope` holds the OpenID Connect scopes only; API scopes are governed by api_access.
  const scope = unique([
    ...(login || ciba ? LOGIN_SCOPES : []),
    ...(grantTypes.includes('refresh_token') ? ['offline_access'] : []),
  ]);
  const metadata: Record<string, unknown> = {
    client_name: input.name.trim(),
    grant_types: grantTypes.map(grantTypeMetadata),
    response_types: redirects ? ['code'] : [],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogout,
    token_endpoint_auth_method: input.authMethod,
    ...responseSigningMetadata(input, deps.ringAlgs ?? [deps.idTokenAlg]),
    scope: scope.join(' ') || undefined,
    api_access: apiAccess,
    first_party: input.firstParty ?? false,
    min_assurance_level: level,
  };
  Object.assign(
    metadata,
    tlsSubjectMetadata(input),
    senderConstraintMetadata(input),
    pkceMetadata(input, login),
    logout,
    backchannelMetadata(input, ciba),
  );
  if (input.rateLimit) metadata.rate_limit = rateLimitMetadata(input.rateLimit);
  if (input.requireSignedRequestObject) {
    checkSignedRequestObjects(input, redirects);
    metadata.require_signed_request_object = true;
  }
  if (input.jwks) metadata.jwks = input.jwks;
  if (input.jwksUri) metadata.jwks_uri = input.jwksUri;
  for (const key of Object.keys(metadata)) if (metadata[key] === undefined) delete metadata[key];
  return withProfile(input, metadata, deps.serverProfile);
}

/**
 * Records the client's profile (absent for the default) and applies what it demands; under
 * FAPI_PROFILE=2.0 every client is fapi2 and asking for another profile is an error.
 */
function withProfile(
  input: ClientInput,
  metadata: Record<string, unknown>,
  setting: ServerProfileSetting,
): Record<string, unknown> {
  const asked = input.profile === undefined ? undefined : parseProfileName(input.profile);
  if (setting && asked !== undefined && profileOf({ profile: asked }, undefined).fapi !== setting)
    throw invalid(`FAPI_PROFILE=${setting} makes every client fapi2`, 'profile');
  const profile = profileOf({ profile: asked }, setting);
  if (profile.name === 'default') return metadata;
  const [problem] = profileViolations(profile, metadata);
  if (problem) throw invalid(problem[1], INPUT_FIELD[problem[0]] ?? 'profile');
  const applied = { ...metadata, profile: profile.name };
  addProfileDemands(profile, applied);
  return applied;
}

/** ClientInput's name of a metadata field a profile may refuse. */
const INPUT_FIELD: Record<string, string> = {
  token_endpoint_auth_method: 'authMethod',
  backchannel_authentication_request_signing_alg: 'backchannel',
  backchannel_token_delivery_mode: 'backchannel',
  response_types: 'grantTypes',
  grant_types: 'grantTypes',
  pkce: 'pkce',
  ...Object.fromEntries(Object.entries(RESPONSE_SIGNING_FIELDS).map(([f, m]) => [m, f])),
};
