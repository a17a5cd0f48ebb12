// FAPI 2.0 Message Signing: signed request objects (JAR, RFC 9101) pushed to the PAR endpoint,
// signed authorization responses (JARM) and signed introspection responses (RFC 9701).
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { SigningAlg } from '../config.ts';

/** The longest a request object may be valid: `exp` at most 60 minutes after `nbf` (FAPI 2.0 MS §5.3.1). */
export const MAX_REQUEST_OBJECT_LIFETIME_SECONDS = 3600;

type Claims = Record<string, unknown>;

/**
 * Checks a request object beyond what the library checks itself (its algorithm among
 * enabledJWA.requestObjectSigningAlgValues in configuration.ts, the signature, `iss`, `aud`, and
 * `exp` and `nbf` against the clock, when present). Request objects are taken only at the PAR
 * endpoint, so a `request` sent to the authorization endpoint directly is refused; a request
 * pushed earlier was checked when it was pushed. Every pushed request object must name the
 * issuer as `aud` and carry `exp` and `nbf` at most 60 minutes apart, for every client: the
 * rule of FAPI 2.0 Message Signing, and no weaker one exists for the others.
 */
export async function assertRequestObject(ctx: KoaContextWithOIDC, claims: Claims): Promise<void> {
  const pushed = 'PushedAuthorizationRequest' in ctx.oidc.entities;
  if (ctx.oidc.route === 'authorization') {
    if (pushed) return;
    throw new errors.RequestNotSupported(
      'request objects are accepted only at the pushed authorization request endpoint',
    );
  }
  for (const claim of ['exp', 'nbf', 'aud']) {
    if (claims[claim] === undefined)
      throw new errors.InvalidRequestObject(`Request Object is missing the '${claim}' claim`);
  }
  const lifetime = (claims.exp as number) - (claims.nbf as number);
  if (!(lifetime > 0 && lifetime <= MAX_REQUEST_OBJECT_LIFETIME_SECONDS)) {
    throw new errors.InvalidRequestObject("Request Object 'exp' claim too far from 'nbf' claim");
  }
}

/** The features oidc-provider enables for message signing (spread into `features`). */
export function messageSigningFeatures() {
  return {
    // Required per client by `require_signed_request_object`; optional for the others.
    requestObjects: {
      enabled: true,
      requireSignedRequestObject: false,
      assertJwtClaimsAndHeader: assertRequestObject,
    },
    // response_mode=jwt, query.jwt, fragment.jwt, form_post.jwt: signed with the key ring.
    jwtResponseModes: { enabled: true },
    // A JWT introspection response for callers that send Accept: application/token-introspection+jwt.
    jwtIntrospection: { enabled: true },
  };
}

/**
 * Client defaults (spread into `clientDefaults`): authorization and introspection responses are
 * signed with the key ring's algorithm (the library's RS256 default is not one Portcullis signs with).
 */
export function messageSigningClientDefaults(alg: SigningAlg) {
  return { authorization_signed_response_alg: alg, introspection_signed_response_alg: alg };
}
