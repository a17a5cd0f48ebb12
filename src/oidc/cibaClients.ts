// What an administrator decides about a CIBA client (delivery mode, notification endpoint, the
// algorithm of its signed requests), checked and turned into oidc-provider's client metadata.
import { invalid } from '../errors.ts';

export const CIBA_GRANT_TYPE = 'urn:openid:params:grant-type:ciba' as const;
export type DeliveryMode = 'poll' | 'ping';
export const DELIVERY_MODES: readonly DeliveryMode[] = ['poll', 'ping'];
/** Algorithms a client may sign its backchannel authentication requests with (never HMAC or RS256). */
export const CIBA_SIGNING_ALGS = ['PS256', 'ES256', 'Ed25519', 'EdDSA'] as const;

export interface BackchannelInput {
  /** poll (default): the client polls the token endpoint; ping: it is told when to. */
  mode?: DeliveryMode | undefined;
  /** ping: the https endpoint the notification is posted to. */
  notificationEndpoint?: string | undefined;
  /** Requests only as request objects signed with this algorithm (its keys: jwks or jwks_uri). */
  signingAlg?: string | undefined;
}

/** The CIBA metadata of a client (empty without the CIBA grant; settings without it are refused). */
export function backchannelMetadata(
  input: { backchannel?: BackchannelInput | undefined; jwks?: unknown; jwksUri?: unknown },
  ciba: boolean,
): Record<string, unknown> {
  const b = input.backchannel;
  if (!ciba) {
    if (b && (b.mode || b.notificationEndpoint || b.signingAlg))
      throw invalid(`backchannel settings need the ${CIBA_GRANT_TYPE} grant`, 'backchannel');
    return {};
  }
  const mode = b?.mode ?? 'poll';
  if (!DELIVERY_MODES.includes(mode))
    throw invalid(
      `unknown token delivery mode ${mode} (allowed: ${DELIVERY_MODES.join(', ')})`,
      'backchannel',
    );
  const metadata: Record<string, unknown> = {
    backchannel_token_delivery_mode: mode,
    // Portcullis issues no user codes: a client may not ask for one.
    backchannel_user_code_parameter: false,
  };
  if (mode === 'ping') {
    const endpoint = b?.notificationEndpoint;
    const url = typeof endpoint === 'string' ? URL.parse(endpoint) : null;
    if (url?.protocol !== 'https:' || endpoint?.includes('#'))
      throw invalid(
        'ping mode needs a client notification endpoint: an absolute https URL without fragment',
        'backchannel',
      );
    metadata.backchannel_client_notification_endpoint = endpoint;
  } else if (b?.notificationEndpoint) {
    throw invalid('a client notification endpoint is only used in ping mode', 'backchannel');
  }
  if (b?.signingAlg !== undefined) {
    if (!(CIBA_SIGNING_ALGS as readonly string[]).includes(b.signingAlg))
      throw invalid(
        `signed backchannel requests use ${CIBA_SIGNING_ALGS.join(', ')} (not ${b.signingAlg})`,
        'backchannel',
      );
    if (!input.jwks && !input.jwksUri)
      throw invalid(
        "signed backchannel requests need the client's public keys (a JWKS or a JWKS URI)",
        'backchannel',
      );
    metadata.backchannel_authentication_request_signing_alg = b.signingAlg;
  }
  return metadata;
}

/** A CIBA client's settings as administrators read them (and give them back on update). */
export interface BackchannelView {
  mode: DeliveryMode;
  notificationEndpoint: string | undefined;
  signingAlg: string | undefined;
}

export function backchannelView(metadata: Record<string, unknown>): BackchannelView | null {
  const grants = Array.isArray(metadata.grant_types) ? metadata.grant_types : [];
  if (!grants.includes(CIBA_GRANT_TYPE)) return null;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return {
    mode: metadata.backchannel_token_delivery_mode === 'ping' ? 'ping' : 'poll',
    notificationEndpoint: str(metadata.backchannel_client_notification_endpoint),
    signingAlg: str(metadata.backchannel_authentication_request_signing_alg),
  };
}
