// Dynamic client registration (RFC 7591/7592) with initial access tokens that carry what a
// registered client may access; a policy on every token applies the admin API's client rules.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import { DomainError, invalid } from '../errors.ts';
import { rateLimitOfMetadata } from '../limits/rateLimit.ts';
import { hashId } from './adapter.ts';
import type { ArtifactStore } from './artifactStore.ts';
import type { Catalogue } from './catalogue.ts';
import type { BackchannelInput } from './cibaClients.ts';
import {
  type AuthMethod,
  type ClientInput,
  checkApiAccess,
  clientMetadata,
  SECRET_METHODS,
} from './clientRules.ts';
import type { GrantType } from './grantTypes.ts';
import type { ProfileName, ServerProfileSetting } from './profiles.ts';
import { RESPONSE_SIGNING_FIELDS, type ResponseSigningInput } from './responseSigning.ts';
import { TLS_SUBJECT_KINDS } from './tokenBinding.ts';

export const REGISTRATION_POLICY = 'portcullis';
export const MIN_ALLOWANCE_SECONDS = 60;
export const MAX_ALLOWANCE_SECONDS = 30 * 24 * 3600;

export interface AllowanceInput {
  description: string;
  apiAccess: Record<string, string[]>;
  minAssuranceLevel?: 1 | 2 | 3 | undefined;
  expiresInSeconds: number;
  singleUse: boolean;
  createdBy: string;
  /** `fapi2`: every client registered with the token is a FAPI 2.0 client. */
  profile?: ProfileName | undefined;
}

/**
 * What a client registered with an initial access token may access: stored in the artefact
 * store beside its token, under the same key (the SHA-256 of the token), so it expires and is
 * swept with it and no usable token is stored.
 */
interface AllowancePayload {
  id: string;
  description: string;
  apiAccess: Record<string, string[]>;
  minAssuranceLevel: 1 | 2 | 3;
  singleUse: boolean;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  /** Absent in tokens issued before profiles existed: the default. */
  profile?: ProfileName;
}

export interface Allowance {
  id: string;
  description: string;
  apiAccess: Record<string, string[]>;
  minAssuranceLevel: 1 | 2 | 3;
  singleUse: boolean;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  profile: ProfileName;
}

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

const SNAKE: Record<string, string> = {
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

const toAllowance = (p: AllowancePayload): Allowance => ({
  ...p,
  profile: p.profile ?? 'default',
  createdAt: new Date(p.createdAt),
  expiresAt: new Date(p.expiresAt),
});

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

interface Decided {
  api_access: Record<string, string[]>;
  first_party: boolean;
  min_assurance_level: 1 | 2 | 3;
  /** Set by an administrator after registration (client update --rate-limit); kept by updates. */
  rate_limit?: unknown;
  /** `fapi2` from the initial access token (or kept from the client); absent: the default. */
  profile?: 'fapi2';
}

export interface RegistrationDeps {
  artifacts: ArtifactStore;
  clock: Clock;
  catalogue: Catalogue;
  idTokenAlg: string;
  /** Every algorithm of the key ring, the default first. */
  ringAlgs?: readonly string[] | undefined;
  /** FAPI_PROFILE: '2.0' makes every registered client fapi2. */
  serverProfile?: ServerProfileSetting;
  /** The provider serving requests now (it is rebuilt when the key ring changes). */
  provider: () => Provider;
}

export function createRegistration(deps: RegistrationDeps) {
  const { clock, catalogue } = deps;
  const store = deps.artifacts.allowances;
  /** The allowance each registration request used, for its audit event. */
  const used = new WeakMap<object, string>();

  /** Refuses fields a client may not set; on an update, fields echoed back unchanged pass. */
  function checkFields(body: Record<string, unknown>, decided: Decided, current?: object): void {
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
    const str = (key: string) =>
      typeof body[key] === 'string' ? (body[key] as string) : undefined;
    const mode = str('backchannel_token_delivery_mode');
    const notificationEndpoint = str('backchannel_client_notification_endpoint');
    const signingAlg = str('backchannel_authentication_request_signing_alg');
    if (!mode && !notificationEndpoint && !signingAlg) return undefined;
    return { mode: mode as BackchannelInput['mode'], notificationEndpoint, signingAlg };
  }

  /** The metadata a registration request is stored as, by the same rules as the admin API. */
  async function registeredMetadata(
    body: Record<string, unknown>,
    decided: Decided,
  ): Promise<Record<string, unknown>> {
    const input: ClientInput = {
      name: body.client_name as string,
      grantTypes: (stringList(body, 'grant_types') ?? ['authorization_code']) as GrantType[],
      redirectUris: stringList(body, 'redirect_uris'),
      postLogoutRedirectUris: stringList(body, 'post_logout_redirect_uris'),
      // oidc-provider's default for Portcullis (configuration clientDefaults).
      authMethod: (body.token_endpoint_auth_method ?? 'private_key_jwt') as AuthMethod,
      jwks: (body.jwks ?? undefined) as ClientInput['jwks'],
      jwksUri: (body.jwks_uri ?? undefined) as string | undefined,
      tlsSubject: registeredTlsSubject(body),
      senderConstraint:
        body.tls_client_certificate_bound_access_tokens === true ? 'mtls' : undefined,
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
    let metadata: Record<string, unknown>;
    try {
      metadata = await clientMetadata(input, {
        catalogue,
        idTokenAlg: deps.idTokenAlg,
        ringAlgs: deps.ringAlgs,
        serverProfile: deps.serverProfile,
      });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      throw new errors.InvalidClientMetadata(
        `${SNAKE[err.field ?? ''] ?? 'client metadata'}: ${err.message}`,
      );
    }
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
    return metadata;
  }

  /** The registration policy: runs at registration (RFC 7591) and at every update (RFC 7592). */
  async function policy(ctx: KoaContextWithOIDC, properties: Record<string, unknown>) {
    const iat = ctx.oidc.entities.InitialAccessToken as { jti?: string } | undefined;
    const body = (ctx.oidc.body ?? {}) as Record<string, unknown>;
    let allowance: AllowancePayload | undefined;
    let decided: Decided;
    let current: Record<string, unknown> | undefined;
    if (iat?.jti) {
      allowance = await store.find<AllowancePayload>(hashId(iat.jti));
      if (!allowance) throw new errors.InvalidToken('initial access token not found');
      decided = {
        api_access: allowance.apiAccess,
        first_party: false,
        min_assurance_level: allowance.minAssuranceLevel,
        ...(allowance.profile === 'fapi2' ? { profile: 'fapi2' as const } : {}),
      };
    } else {
      const client = ctx.oidc.client as unknown as Record<string, unknown> | undefined;
      if (!client) throw new errors.InvalidToken('client not found');
      current = (client as { metadata(): Record<string, unknown> }).metadata();
      decided = {
        api_access: (current.api_access ?? {}) as Record<string, string[]>,
        first_party: current.first_party === true,
        min_assurance_level: (current.min_assurance_level ?? 1) as 1 | 2 | 3,
        rate_limit: current.rate_limit,
        ...(current.profile === 'fapi2' ? { profile: 'fapi2' as const } : {}),
      };
    }
    checkFields(body, decided, current);
    const metadata = await registeredMetadata(body, decided);

    const kept: Record<string, unknown> = {};
    for (const key of ['client_id', 'client_id_issued_at']) kept[key] = properties[key];
    if (SECRET_METHODS.has(metadata.token_endpoint_auth_method as AuthMethod)) {
      kept.client_secret = properties.client_secret;
      kept.client_secret_expires_at = properties.client_secret_expires_at;
    }
    for (const key of Object.keys(properties)) delete properties[key];
    Object.assign(properties, kept, metadata);

    if (allowance) {
      if (allowance.singleUse) {
        // Any validation error surfaces before the token is spent; then exactly one caller wins.
        await ctx.oidc.provider.Client.validate(properties as never);
        if (!(await store.take(hashId(iat!.jti!))))
          throw new errors.InvalidToken('initial access token was already used');
      }
      used.set(ctx, allowance.id);
    }
  }

  return {
    policies: { [REGISTRATION_POLICY]: policy },

    /** Issues an initial access token; the token is returned once and stored only hashed. */
    async issue(input: AllowanceInput): Promise<{ token: string; allowance: Allowance }> {
      const seconds = input.expiresInSeconds;
      if (
        !Number.isInteger(seconds) ||
        seconds < MIN_ALLOWANCE_SECONDS ||
        seconds > MAX_ALLOWANCE_SECONDS
      )
        throw invalid(
          `expiresIn must be a whole number of seconds from ${MIN_ALLOWANCE_SECONDS} to ${MAX_ALLOWANCE_SECONDS}`,
          'expiresIn',
        );
      const apiAccess = await checkApiAccess(catalogue, input.apiAccess);
      const level = input.minAssuranceLevel ?? 1;
      const now = clock.now();
      const provider = deps.provider();
      const token = await new provider.InitialAccessToken({
        expiresIn: seconds,
        policies: [REGISTRATION_POLICY],
      }).save();
      const payload: AllowancePayload = {
        id: randomUUID(),
        description: input.description.trim(),
        apiAccess,
        minAssuranceLevel: level,
        singleUse: input.singleUse,
        createdBy: input.createdBy,
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(now + seconds * 1000).toISOString(),
        ...(input.profile === 'fapi2' ? { profile: 'fapi2' as const } : {}),
      };
      await store.insert(hashId(token), payload, new Date(payload.expiresAt));
      return { token, allowance: toAllowance(payload) };
    },

    /** Initial access tokens not yet expired (or used, when single use), without their values. */
    list: async (): Promise<Allowance[]> => (await store.list<AllowancePayload>()).map(toAllowance),

    /** Revokes an initial access token by its id; false when there is none. */
    revoke: (id: string): Promise<boolean> => store.revoke(id),

    /** The id of the initial access token a registration request used, if any. */
    allowanceOf: (ctx: object): string | undefined => used.get(ctx),
  };
}

export type Registration = ReturnType<typeof createRegistration>;
