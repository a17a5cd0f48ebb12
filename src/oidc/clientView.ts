// How Portcullis shows a client (CLI, admin API, access review): its stored metadata read back
// into what an administrator decided, never with its secret.
import { type RateLimit, rateLimitOfMetadata } from '../limits/rateLimit.ts';
import { type BackchannelView, backchannelView } from './cibaClients.ts';
import type { AuthMethod } from './clientRules.ts';
import type { ClientRow } from './clientStore.ts';
import { type GrantType, grantTypeName } from './grantTypes.ts';
import { logoutUrisOf } from './logoutMetadata.ts';
import type { PkceSetting } from './pkceSetting.ts';
import { type ProfileName, profileOf, type ServerProfileSetting } from './profiles.ts';
import { type ResponseSigningField, responseSigningOf } from './responseSigning.ts';
import {
  type SenderConstraint,
  senderConstraintOf,
  type TlsSubjectKind,
  tlsSubjectOf,
} from './tokenBinding.ts';

/** What an administrator should know about a client's weaker settings (client show, access review). */
export function clientWarnings(client: Pick<ClientView, 'pkce'>): string[] {
  return client.pkce === 'optional'
    ? [
        'PKCE is optional for this client: its authorization codes are protected by its secret alone',
      ]
    : [];
}

/** A client as Portcullis shows it (never with its secret). */
export interface ClientView {
  clientId: string;
  name: string;
  grantTypes: GrantType[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  authMethod: AuthMethod;
  jwksUri: string | undefined;
  hasJwks: boolean;
  apiAccess: Record<string, string[]>;
  firstParty: boolean;
  minAssuranceLevel: number;
  /** tls_client_auth: the certificate subject it must present; null for other methods. */
  tlsSubject: { kind: TlsSubjectKind; value: string } | null;
  /** Tokens bound to a DPoP key or its TLS certificate; null: bearer tokens. */
  senderConstraint: SenderConstraint | null;
  /** Its own request limit; null: the default (CLIENT_RATE_LIMIT). */
  rateLimit: RateLimit | null;
  /** What the client's requests must obey (src/oidc/profiles.ts), FAPI_PROFILE included. */
  profile: ProfileName;
  /** Authorization requests only as signed request objects (JAR) pushed to the PAR endpoint. */
  requireSignedRequestObject: boolean;
  /** PKCE required (the default) or optional (a confidential OpenID Connect RP: a warning). */
  pkce: PkceSetting;
  /** The algorithms of its ID tokens, UserInfo, JARM and introspection responses, when not the default. */
  signing: Partial<Record<ResponseSigningField, string>>;
  /** Back-channel logout URI; null: none. */
  backchannelLogoutUri: string | null;
  /** Front-channel logout URI; null: none. */
  frontchannelLogoutUri: string | null;
  /** Backchannel authentication (CIBA) settings; null without the CIBA grant. */
  backchannel: BackchannelView | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

/** How Portcullis shows a stored client (never with its secret). */
export function clientViewOf(
  row: ClientRow,
  options: { idTokenAlg: string; serverProfile?: ServerProfileSetting },
): ClientView {
  const m = row.metadata as Record<string, never>;
  return {
    clientId: row.client_id,
    name: m.client_name ?? row.client_id,
    grantTypes: ((m.grant_types ?? []) as string[]).map(grantTypeName) as GrantType[],
    redirectUris: m.redirect_uris ?? [],
    postLogoutRedirectUris: m.post_logout_redirect_uris ?? [],
    authMethod: m.token_endpoint_auth_method ?? 'client_secret_basic',
    jwksUri: m.jwks_uri,
    hasJwks: Boolean(m.jwks),
    apiAccess: m.api_access ?? {},
    firstParty: m.first_party === true,
    minAssuranceLevel: typeof m.min_assurance_level === 'number' ? m.min_assurance_level : 1,
    tlsSubject: tlsSubjectOf(m),
    senderConstraint: senderConstraintOf(m),
    rateLimit: rateLimitOfMetadata(m.rate_limit) ?? null,
    profile: profileOf(m, options.serverProfile).name,
    requireSignedRequestObject: m.require_signed_request_object === true,
    pkce: m.pkce === 'optional' ? 'optional' : 'required',
    signing: responseSigningOf(m, options.idTokenAlg),
    ...logoutUrisOf(m),
    backchannel: backchannelView(m),
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
