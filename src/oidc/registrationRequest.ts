// Dynamic registration requests (RFC 7591/7592) read as the client rules take them: which
// metadata a client may send, how it maps to ClientInput, and what it must agree with once built.
import { isDeepStrictEqual } from 'node:util';
import { errors } from 'oidc-provider';
import { rateLimitOfMetadata } from '../limits/rateLimit.ts';
import type { BackchannelInput } from './cibaClients.ts';
import type { AuthMethod, ClientInput } from './clientRules.ts';
import type { GrantType } from './grantTypes.ts';
import { RESPONSE_SIGNING_FIELDS, type ResponseSigningInput } from './responseSigning.ts';
import { TLS_SUBJECT_KINDS } from './tokenBinding.ts';

/** Metadata a client may register itself: the protocol fields the client rules decide on... */
const PROTOCOL_FIELDS = [
  'client_name',
  'grant_types',
  'response_types',
  'redirect_uris',
  'post_logout_redirect_uris',
  'token_endpoint_auth_method',
  'jwks',
  'jwks_uri',
  'scope',
  // Mutual TLS (RFC 8705 §2.1.2, §3.4).
  'tls_client_auth_subject_dn',
  'tls_client_auth_san_dns',
  'tls_client_auth_san_uri',
  'tls_client_auth_san_ip',
  'tls_client_auth_san_email',
  'tls_client_certificate_bound_access_tokens',
  'require_signed_request_object',
  // The algorithms of the responses signed for it, among the key ring's (src/oidc/responseSigning.ts).
  ...Object.values(RESPONSE_SIGNING_FIELDS),
  // Logout to relying parties (src/oidc/logoutMetadata.ts: sid is always sent).
  'backchannel_logout_uri',
  'backchannel_logout_session_required',
  'frontchannel_logout_uri',
  'frontchannel_logout_session_required',
  // CIBA (OpenID Connect CIBA Core §4); user codes are never offered.
  'backchannel_token_delivery_mode',
  'backchannel_client_notification_endpoint',
  'backchannel_authentication_request_signing_alg',
  'backchannel_user_code_parameter',
];
/** ...and descriptive ones, copied as given (the protocol library checks their form). */
const INFO_FIELDS = [
  'client_uri',
  'logo_uri',
  'tos_uri',
  'policy_uri',
  'contacts',
  'software_id',
  'software_version',
];
/** Fields only an administrator decides. */
const DECIDED_FIELDS = [
  'api_access',
  'first_party',
  'min_assurance_level',
  'rate_limit',
  'profile',
];
/** Fields the client's profile sets (src/oidc/profiles.ts): a client may send the same value. */
const PROFILE_FIELDS = ['require_pushed_authorization_requests', 'dpop_bound_access_tokens'];
/** Fields the protocol library itself checks or sets. */
const PROVIDER_FIELDS = ['client_id', 'client_secret', 'client_id_issued_at'];

/** The registration metadata member a ClientInput field comes from, to name it in errors. */
export const SNAKE: Record<string, string> = {
  name: 'client_name',
  grantTypes: 'grant_types',
  redirectUris: 'redirect_uris',
  postLogoutRedirectUris: 'post_logout_redirect_uris',
  authMethod: 'token_endpoint_auth_method',
  jwks: 'jwks',
  jwksUri: 'jwks_uri',
  tlsSubject: 'tls_client_auth_*',
  ...RESPONSE_SIGNING_FIELDS,
  senderConstraint: 'tls_client_certificate_bound_access_tokens',
  apiAccess: 'api_access',
  minAssuranceLevel: 'min_assurance_level',
  requireSignedRequestObject: 'require_signed_request_object',
  backchannelLogoutUri: 'backchannel_logout_uri',
  frontchannelLogoutUri: 'frontchannel_logout_uri',
  backchannel: 'backchannel_*',
};

function stringList(body: Record<string, unknown>, key: string): string[] | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw new errors.InvalidClientMetadata(`${key} must be an array of strings`);
  return value;
}

/** The one tls_client_auth_* member of a registration request (RFC 8705 §2.1.2), if any. */
function registeredTlsSubject(body: Record<string, unknown>): ClientInput['tlsSubject'] {
  const given = TLS_SUBJECT_KINDS.filter((kind) => body[`tls_client_auth_${kind}`] != null);
  if (given.length > 1)
    throw new errors.InvalidClientMetadata(
      'only one tls_client_auth certificate subject value must be provided',
    );
  const kind = given[0];
  if (!kind) return undefined;
  const value = body[`tls_client_auth_${kind}`];
  if (typeof value !== 'string')
    throw new errors.InvalidClientMetadata(`tls_client_auth_${kind} must be a string`);
  return { kind, value };
}

/** The response signing algorithms a registration asks for, as ClientInput fields. */
function registeredSigningAlgs(body: Record<string, unknown>): ResponseSigningInput {
  const out: ResponseSigningInput = {};
  for (const [field, member] of Object.entries(RESPONSE_SIGNING_FIELDS)) {
    const value = body[member];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string')
      throw new errors.InvalidClientMetadata(`${member} must be a string`);
    out[field as keyof ResponseSigningInput] = value;
  }
  return out;
}

function flag(body: Record<string, unknown>, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean')
    throw new errors.InvalidClientMetadata(`${key} must be a boolean`);
  return value;
}

/** What the administrator decided for a registered client (the initial access token, or kept). */
export interface Decided {
  api_access: Record<string, string[]>;
  first_party: boolean;
  min_assurance_level: 1 | 2 | 3;
  /** Set by an administrator after registration (client update --rate-limit); kept by updates. */
  rate_limit?: unknown;
  /** `fapi2` from the initial access token (or kept from the client); absent: the default. */
  profile?: 'fapi2';
}

/** Refuses fields a client may not set; on an update, fields echoed back unchanged pass. */
export function checkFields(
  body: Record<string, unknown>,
  decided: Decided,
  current?: object,
): void {
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined || value === null || PROVIDER_FIELDS.includes(key)) continue;
    if (PROFILE_FIELDS.includes(key)) continue; // compared with the metadata, once built
    if (DECIDED_FIELDS.includes(key)) {
      if (!isDeepStrictEqual(value, decided[key as keyof Decided]))
        throw new errors.InvalidClientMetadata(
          `${key} is decided by the administrator who issued the initial access token`,
        );
      continue;
    }
    if (PROTOCOL_FIELDS.includes(key) || INFO_FIELDS.includes(key)) continue;
    const was = current ? (current as Record<string, unknown>)[key] : undefined;
    if (current && isDeepStrictEqual(value, was)) continue;
    throw new errors.InvalidClientMetadata(`${key} cannot be registered with Portcullis`);
  }
}

/** CIBA metadata as the client rules take it; a user code cannot be asked for. */
function registeredBackchannel(body: Record<string, unknown>): BackchannelInput | undefined {
  if (body.backchannel_user_code_parameter === true)
    throw new errors.InvalidClientMetadata(
      'backchannel_user_code_parameter: user codes are not supported',
    );
  const str = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : undefined);
  const mode = str('backchannel_token_delivery_mode');
  const notificationEndpoint = str('backchannel_client_notification_endpoint');
  const signingAlg = str('backchannel_authentication_request_signing_alg');
  if (!mode && !notificationEndpoint && !signingAlg) return undefined;
  return { mode: mode as BackchannelInput['mode'], notificationEndpoint, signingAlg };
}

/** A registration request as the client rules' input; what the administrator decided, from `decided`. */
export function registrationInput(body: Record<string, unknown>, decided: Decided): ClientInput {
  return {
    name: body.client_name as string,
    grantTypes: (stringList(body, 'grant_types') ?? ['authorization_code']) as GrantType[],
    redirectUris: stringList(body, 'redirect_uris'),
    postLogoutRedirectUris: stringList(body, 'post_logout_redirect_uris'),
    // oidc-provider's default for Portcullis (configuration clientDefaults).
    authMethod: (body.token_endpoint_auth_method ?? 'private_key_jwt') as AuthMethod,
    jwks: (body.jwks ?? undefined) as ClientInput['jwks'],
    jwksUri: (body.jwks_uri ?? undefined) as string | undefined,
    tlsSubject: registeredTlsSubject(body),
    senderConstraint: body.tls_client_certificate_bound_access_tokens === true ? 'mtls' : undefined,
    apiAccess: decided.api_access,
    firstParty: decided.first_party,
    minAssuranceLevel: decided.min_assurance_level,
    rateLimit: rateLimitOfMetadata(decided.rate_limit),
    profile: decided.profile,
    requireSignedRequestObject: flag(body, 'require_signed_request_object'),
    ...registeredSigningAlgs(body),
    backchannelLogoutUri: (body.backchannel_logout_uri ?? undefined) as string | undefined,
    frontchannelLogoutUri: (body.frontchannel_logout_uri ?? undefined) as string | undefined,
    backchannel: registeredBackchannel(body),
  };
}

/** Checks what a request sent against the metadata built from it, then copies descriptive fields. */
export function checkAgainstMetadata(
  body: Record<string, unknown>,
  metadata: Record<string, unknown>,
  decided: Decided,
): void {
  for (const key of PROFILE_FIELDS) {
    const sent = body[key];
    if (sent === undefined || sent === null || sent === metadata[key]) continue;
    if (sent === false && metadata[key] === undefined) continue;
    throw new errors.InvalidClientMetadata(
      metadata[key] === undefined
        ? `${key} cannot be registered with Portcullis`
        : `${key} must be ${String(metadata[key])} for this client's profile`,
    );
  }
  const responseTypes = stringList(body, 'response_types');
  if (responseTypes && !isDeepStrictEqual(responseTypes, metadata.response_types))
    throw new errors.InvalidClientMetadata(
      `response_types must be ${JSON.stringify(metadata.response_types)} for these grant types`,
    );
  if (typeof body.scope === 'string') {
    const allowed = new Set([
      ...String(metadata.scope ?? '').split(' '),
      ...Object.values(decided.api_access).flat(),
    ]);
    const extra = body.scope.split(' ').filter((s) => s && !allowed.has(s));
    if (extra.length)
      throw new errors.InvalidClientMetadata(`scope ${extra.join(' ')} is not allowed`);
  }
  for (const key of INFO_FIELDS) if (body[key] != null) metadata[key] = body[key];
}
