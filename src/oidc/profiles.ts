// The client profiles as data: what each one demands of a client (FAPI 2.0 Security Profile for
// `fapi2`), and the one function deciding a client's profile. Everything else reads these records.
import { invalid } from '../errors.ts';

export type ProfileName = 'default' | 'fapi2';
export const PROFILE_NAMES: readonly ProfileName[] = ['default', 'fapi2'];

/** FAPI_PROFILE: '2.0' makes every client fapi2; unset, each client has its own. */
export type ServerProfileSetting = '2.0' | undefined;

export interface Profile {
  name: ProfileName;
  /** oidc-provider's `features.fapi.profile` value for the client. */
  fapi: '2.0' | undefined;
  /**
   * Token endpoint authentication methods a client may use; undefined: any the server offers.
   * A list without `none` admits no public client.
   */
  authMethods: readonly string[] | undefined;
  /** Algorithms a client may sign with (client assertions, request objects, DPoP proofs). */
  clientSigningAlgs: readonly string[];
  /**
   * Algorithms Portcullis may sign this client's responses with (ID token, UserInfo, JARM, JWT
   * introspection); undefined: any of the key ring's.
   */
  responseSigningAlgs: readonly string[] | undefined;
  /** Authorization requests only through PAR (RFC 9126). */
  requirePar: boolean;
  /** Access tokens bound to a DPoP key (RFC 9449) or a client certificate (RFC 8705). */
  requireSenderConstraint: boolean;
  /**
   * PKCE method an authorization request uses: S256 for every profile (oidc-provider supports
   * no other). PKCE is required of every client (configuration.ts, `pkceRequired`) unless the
   * profile lets a confidential client be registered with `pkce: 'optional'`.
   */
  pkce: 'S256';
  /** A confidential client may be registered with PKCE optional (OpenID Connect Core RPs). */
  allowOptionalPkce: boolean;
  responseTypes: readonly string[];
  /** Grant types (as oidc-provider's metadata names them) a client of the profile may not use. */
  refusedGrantTypes: readonly string[];
  authorizationCodeSeconds: number;
  /**
   * Refresh tokens single use, each refresh returning a new one, a replayed one revoking the
   * grant (RFC 9700 §4.14.2); or not rotated at all (FAPI 2.0 §5.3.2.1: the earlier one keeps working).
   */
  rotateRefreshTokens: boolean;
  /** Backchannel authentication (CIBA; FAPI-CIBA for fapi2). */
  ciba: {
    /** Token delivery modes a client may register (FAPI-CIBA: poll or ping, never push). */
    deliveryModes: readonly string[];
    /** Authentication requests only as a signed request object (FAPI-CIBA §5.2.2). */
    requireSignedRequest: boolean;
  };
  clientAssertion: {
    /** aud must be the issuer identifier as a string (no array, no endpoint URL). */
    audienceIssuerOnly: boolean;
    /** sub must be present and equal the client_id (RFC 7523 §3). */
    requireSubject: boolean;
    /** iat or nbf further than this ahead of the server's clock: refused (FAPI 2.0: 60 s). */
    maxFutureSeconds: number | undefined;
    /** A client assertion (its jti) is accepted once: oidc-provider's replay check, for every profile. */
    singleUse: true;
  };
}

/** What every client obeys today: the rules of src/oidc/clientRules.ts, nothing more. */
const DEFAULT: Profile = {
  name: 'default',
  fapi: undefined,
  authMethods: undefined,
  clientSigningAlgs: ['ES256', 'PS256', 'Ed25519', 'EdDSA'],
  responseSigningAlgs: undefined,
  requirePar: false,
  requireSenderConstraint: false,
  pkce: 'S256',
  allowOptionalPkce: true,
  responseTypes: ['code'],
  refusedGrantTypes: [],
  authorizationCodeSeconds: 60,
  rotateRefreshTokens: true,
  ciba: { deliveryModes: ['poll', 'ping'], requireSignedRequest: false },
  clientAssertion: {
    audienceIssuerOnly: false,
    requireSubject: false,
    maxFutureSeconds: undefined,
    singleUse: true,
  },
};

/** FAPI 2.0 Security Profile (final), §5.3.2 and §5.4; RFC 9700 where it refers to it. */
const FAPI2: Profile = {
  name: 'fapi2',
  fapi: '2.0',
  authMethods: ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'],
  // Never RS256 (nor any RSA PKCS#1 v1.5, nor HMAC): PS256, ES256 or EdDSA (Ed25519).
  clientSigningAlgs: ['PS256', 'ES256', 'Ed25519', 'EdDSA'],
  // The same for what Portcullis signs for it: the ring's RS256 key is never used for it.
  responseSigningAlgs: ['PS256', 'ES256', 'Ed25519', 'EdDSA'],
  requirePar: true,
  requireSenderConstraint: true,
  pkce: 'S256',
  // FAPI 2.0 §5.3.2.2: PKCE with S256, always.
  allowOptionalPkce: false,
  responseTypes: ['code'],
  // FAPI 2.0 knows no device authorization grant (RFC 8628): its authorization is not bound to
  // the client's request (no PAR, no PKCE, a code typed by hand), so no fapi2 client has it.
  refusedGrantTypes: ['urn:ietf:params:oauth:grant-type:device_code'],
  authorizationCodeSeconds: 60,
  rotateRefreshTokens: false,
  // FAPI-CIBA: signed requests, poll or ping; tokens sender-constrained like every fapi2 token.
  ciba: { deliveryModes: ['poll', 'ping'], requireSignedRequest: true },
  clientAssertion: {
    audienceIssuerOnly: true,
    requireSubject: true,
    maxFutureSeconds: 60,
    singleUse: true,
  },
};

export const PROFILES: Readonly<Record<ProfileName, Profile>> = { default: DEFAULT, fapi2: FAPI2 };

/** The profile a server-wide setting imposes on every client, if any. */
export const serverProfile = (setting: ServerProfileSetting): Profile | undefined =>
  setting === '2.0' ? FAPI2 : undefined;

/**
 * A client's profile: FAPI_PROFILE=2.0 makes every client fapi2; otherwise the client's own
 * `profile` metadata (`fapi2`, or absent for the default).
 */
export function profileOf(
  metadata: { profile?: unknown } | undefined,
  setting: ServerProfileSetting,
): Profile {
  return serverProfile(setting) ?? (metadata?.profile === 'fapi2' ? FAPI2 : DEFAULT);
}

/** Metadata that binds a client's tokens to a key it proves possession of. */
export const SENDER_CONSTRAINT_METADATA = [
  'dpop_bound_access_tokens',
  'tls_client_certificate_bound_access_tokens',
] as const;

const senderConstrained = (metadata: Record<string, unknown>) =>
  SENDER_CONSTRAINT_METADATA.some((key) => metadata[key] === true);

/**
 * What the profile forbids in a client's metadata (oidc-provider's snake_case names), as
 * [field, message] pairs; empty when the client conforms. Sender constraint and PAR are not
 * checked: `addProfileDemands` adds them.
 */
export function profileViolations(
  profile: Profile,
  metadata: Record<string, unknown>,
): [field: string, message: string][] {
  const problems: [string, string][] = [];
  const method = metadata.token_endpoint_auth_method;
  if (profile.authMethods && !profile.authMethods.includes(String(method))) {
    problems.push([
      'token_endpoint_auth_method',
      `a ${profile.name} client authenticates with ${profile.authMethods.join(', ')} (not ${String(method)})`,
    ]);
  }
  const responseTypes = Array.isArray(metadata.response_types) ? metadata.response_types : [];
  const extra = responseTypes.filter((t) => !profile.responseTypes.includes(String(t)));
  if (extra.length) {
    problems.push([
      'response_types',
      `a ${profile.name} client uses response_type ${profile.responseTypes.join(' or ')} only (not ${extra.join(', ')})`,
    ]);
  }
  const grantTypes = Array.isArray(metadata.grant_types) ? metadata.grant_types : [];
  const refused = grantTypes.filter((g) => profile.refusedGrantTypes.includes(String(g)));
  if (refused.length) {
    problems.push([
      'grant_types',
      `a ${profile.name} client cannot use ${refused.map((g) => String(g).replace(/^.*:/, '')).join(', ')} (the device flow is not part of FAPI 2.0)`,
    ]);
  }
  if (metadata.pkce === 'optional' && !profile.allowOptionalPkce)
    problems.push(['pkce', `a ${profile.name} client always uses PKCE: it cannot be optional`]);
  for (const key of [
    'token_endpoint_auth_signing_alg',
    'request_object_signing_alg',
    'backchannel_authentication_request_signing_alg',
  ] as const) {
    const alg = metadata[key];
    if (alg !== undefined && !profile.clientSigningAlgs.includes(String(alg))) {
      problems.push([
        key,
        `a ${profile.name} client signs with ${profile.clientSigningAlgs.join(', ')} only (not ${String(alg)})`,
      ]);
    }
  }
  const allowed = profile.responseSigningAlgs;
  for (const key of RESPONSE_SIGNED_METADATA) {
    const alg = metadata[key];
    if (allowed && alg !== undefined && !allowed.includes(String(alg))) {
      problems.push([
        key,
        `a ${profile.name} client's responses are signed with ${allowed.join(', ')} only (not ${String(alg)})`,
      ]);
    }
  }
  problems.push(...cibaViolations(profile, metadata));
  return problems;
}

/** What the profile forbids in a CIBA client's metadata (FAPI-CIBA for fapi2). */
function cibaViolations(profile: Profile, metadata: Record<string, unknown>): [string, string][] {
  const grants = Array.isArray(metadata.grant_types) ? metadata.grant_types : [];
  if (!grants.includes('urn:openid:params:grant-type:ciba')) return [];
  const problems: [string, string][] = [];
  const mode = String(metadata.backchannel_token_delivery_mode ?? 'poll');
  if (!profile.ciba.deliveryModes.includes(mode))
    problems.push([
      'backchannel_token_delivery_mode',
      `a ${profile.name} client receives CIBA tokens by ${profile.ciba.deliveryModes.join(' or ')} (not ${mode})`,
    ]);
  if (profile.ciba.requireSignedRequest && !metadata.backchannel_authentication_request_signing_alg)
    problems.push([
      'backchannel_authentication_request_signing_alg',
      `a ${profile.name} client signs its backchannel authentication requests (choose an algorithm: ${profile.clientSigningAlgs.join(', ')})`,
    ]);
  return problems;
}

/** Metadata naming the algorithm Portcullis signs a response for the client with. */
const RESPONSE_SIGNED_METADATA = [
  'id_token_signed_response_alg',
  'userinfo_signed_response_alg',
  'authorization_signed_response_alg',
  'introspection_signed_response_alg',
] as const;

/**
 * Adds what the profile demands to client metadata, in place: PAR required and, unless the
 * client's tokens are already bound to its certificate (mTLS), DPoP-bound tokens. Check
 * `profileViolations` first: this adds, it does not refuse.
 */
export function addProfileDemands(profile: Profile, metadata: Record<string, unknown>): void {
  if (profile.requirePar) metadata.require_pushed_authorization_requests = true;
  if (profile.requireSenderConstraint && !senderConstrained(metadata))
    metadata.dpop_bound_access_tokens = true;
}

/**
 * The same demands on metadata oidc-provider is loading (its extraClientMetadata validator may
 * complete `metadata` in place): a stored client that became fapi2 (FAPI_PROFILE=2.0 set on an
 * existing database) gets PAR and DPoP; one the profile forbids is refused (TypeError).
 */
export function enforceProfileOnLoad(profile: Profile, metadata: Record<string, unknown>): void {
  const [problem] = profileViolations(profile, metadata);
  if (problem) throw new TypeError(problem[1]);
  addProfileDemands(profile, metadata);
}

/**
 * Whether an authorization request of this client must carry a PKCE code_challenge: always,
 * unless its profile allows optional PKCE and it is a confidential client registered so.
 */
export function pkceRequired(profile: Profile, metadata: Record<string, unknown>): boolean {
  return !(
    profile.allowOptionalPkce &&
    metadata.pkce === 'optional' &&
    metadata.token_endpoint_auth_method !== 'none'
  );
}

/** Checks a client assertion's claims against the profile; the message of the refusal, if any. */
export function clientAssertionProblem(
  profile: Profile,
  claims: Record<string, unknown>,
  context: { issuer: string; clientId: string; alg: unknown; now: number },
): string | undefined {
  const rules = profile.clientAssertion;
  if (!profile.clientSigningAlgs.includes(String(context.alg)))
    return `client assertions are signed with ${profile.clientSigningAlgs.join(', ')}`;
  if (rules.audienceIssuerOnly && (typeof claims.aud !== 'string' || claims.aud !== context.issuer))
    return 'audience (aud) must be the issuer identifier, as a string';
  if (rules.requireSubject && claims.sub !== context.clientId)
    return 'subject (sub) must be the client_id';
  if (rules.maxFutureSeconds !== undefined) {
    for (const claim of ['iat', 'nbf'] as const) {
      const value = claims[claim];
      if (value === undefined) continue;
      if (typeof value !== 'number') return `${claim} must be a number`;
      if (value > context.now + rules.maxFutureSeconds)
        return `${claim} is more than ${rules.maxFutureSeconds} seconds in the future`;
    }
  }
  return undefined;
}

/** Parses a profile name given by an administrator (CLI, admin API). */
export function parseProfileName(value: unknown, field = 'profile'): ProfileName {
  if (typeof value === 'string' && (PROFILE_NAMES as readonly string[]).includes(value))
    return value as ProfileName;
  throw invalid(`profile must be ${PROFILE_NAMES.join(' or ')}`, field);
}
