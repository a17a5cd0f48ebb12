// Verifies the access tokens Portcullis issued when they are presented to its own APIs (the admin
// API, the consent API): a JWT (RFC 9068) checked against the running key ring, or an opaque token
// found in the store, held to its sender constraint (DPoP proof or client certificate). Web layers
// turn AccessTokenError into responses.
import type { X509Certificate } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import type Provider from 'oidc-provider';
import type { KeyRing } from '../keys/signingKeys.ts';
import type { ArtifactStore } from './artifactStore.ts';
import { PROFILES, type ServerProfileSetting, serverProfile } from './profiles.ts';
import { ringVerificationKeys } from './ringVerificationKeys.ts';
import {
  certificateThumbprint,
  DpopProofError,
  proofReplayId,
  verifyDpopProof,
} from './senderConstraint.ts';

/** What verifying a request's token looks at. */
export interface TokenRequest {
  authorization: string | undefined;
  /** The DPoP header as received. */
  dpop: string | undefined;
  method: string;
  /** The request URL without query or fragment, on ISSUER's origin (never the Host header's). */
  url: string;
  /** The client certificate of the connection or of the trusted proxy's header, if any. */
  certificate: () => X509Certificate | undefined;
}

/**
 * Why a token was refused: `missing` (no token, or another scheme), `invalid_token` or
 * `invalid_dpop_proof`. `scheme` is the challenge to answer with (DPoP for DPoP-bound tokens).
 * The message is for the caller and never quotes the token.
 */
export class AccessTokenError extends Error {
  override name = 'AccessTokenError';
  constructor(
    readonly code: 'missing' | 'invalid_token' | 'invalid_dpop_proof',
    message: string,
    readonly scheme: 'Bearer' | 'DPoP' = 'Bearer',
  ) {
    super(message);
  }
}

export interface VerifiedToken {
  payload: Record<string, unknown>;
  clientId: string;
  sub: string;
  /** The token's audiences (RFC 9068: the API identifier). */
  audiences: string[];
  scopes: Set<string>;
}

export interface AccessTokenVerifierDeps {
  issuer: string;
  clockToleranceSeconds: number;
  ring: () => KeyRing;
  /** Algorithms a DPoP proof may be signed with (the token endpoint's list). */
  dpopAlgorithms: readonly string[];
  /**
   * Records a proof's replay id in the store shared by every instance until `until`; true when
   * it is new (exactly one caller per id).
   */
  claimProof: (id: string, until: Date) => Promise<boolean>;
  /** Opaque tokens' claims as a JWT would carry them (see opaqueTokens); none: JWTs only. */
  findOpaque?: ((token: string) => Promise<Record<string, unknown> | undefined>) | undefined;
}

/**
 * What verifying tokens at Portcullis' own APIs takes from the running server: DPoP proofs signed
 * with the token endpoint's algorithms, kept with oidc-provider's own replay detection (so a proof
 * replayed to another instance fails).
 */
export function ownApiTokenDeps(o: {
  issuer: string;
  clockToleranceSeconds: number;
  fapiProfile: ServerProfileSetting;
  ring: () => KeyRing;
  artifacts: Pick<ArtifactStore, 'claimReplay'>;
}): AccessTokenVerifierDeps {
  return {
    issuer: o.issuer,
    clockToleranceSeconds: o.clockToleranceSeconds,
    ring: o.ring,
    dpopAlgorithms: (serverProfile(o.fapiProfile) ?? PROFILES.default).clientSigningAlgs,
    claimProof: (id, until) =>
      o.artifacts.claimReplay(
        id,
        { kind: 'ReplayDetection', iss: 'admin-api', exp: Math.ceil(until.getTime() / 1000) },
        until,
      ),
  };
}

/**
 * Looks an opaque access token up in the store (client credentials first, then a person's) and
 * gives its claims as a JWT access token carries them; undefined when unknown or expired.
 */
export function opaqueTokens(provider: () => Provider) {
  return async (token: string): Promise<Record<string, unknown> | undefined> => {
    const p = provider();
    const found = (await p.ClientCredentials.find(token)) ?? (await p.AccessToken.find(token));
    if (!found || found.isExpired) return undefined;
    const thumbprint = found['x5t#S256'];
    const cnf = found.jkt ? { jkt: found.jkt } : thumbprint ? { 'x5t#S256': thumbprint } : {};
    const accountId = 'accountId' in found ? found.accountId : undefined;
    return {
      ...(found.extra ?? {}),
      client_id: found.clientId,
      sub: accountId ?? found.clientId,
      aud: found.aud,
      scope: found.scope,
      cnf,
    };
  };
}

export interface VerifyOptions {
  /** The audience required; undefined: any (the caller looks at `audiences`). */
  audience?: string | undefined;
  /** How a wrong audience is described: "the access token is not for <name>". */
  audienceName?: string | undefined;
}

const invalid = (message: string) => new AccessTokenError('invalid_token', message);
const dpopInvalid = (code: 'invalid_token' | 'invalid_dpop_proof', message: string) =>
  new AccessTokenError(code, message, 'DPoP');

/** Why jose refused a token, in words that reveal nothing about the keys. */
function describeJoseError(err: unknown, audienceName: string): string {
  if (err instanceof joseErrors.JWTExpired) return 'the access token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return `the access token is not for ${audienceName}`;
    if (err.claim === 'iss') return 'the access token was not issued by this server';
    if (err.claim === 'typ') return 'not an access token (typ at+jwt expected)';
    return `the access token's ${err.claim} claim is not valid`;
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return 'the access token signature is not valid';
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return 'the access token is not signed by a key of this server';
  return 'the access token is malformed';
}

export function createAccessTokenVerifier(deps: AccessTokenVerifierDeps) {
  /** The public keys of the current ring (rebuilt when the ring changes). */
  const keys = ringVerificationKeys(deps.ring);

  /** The scheme and token of a request; throws `missing` when there is none or another kind. */
  function credentialsOf(header: string | undefined): { scheme: 'bearer' | 'dpop'; token: string } {
    if (!header) throw new AccessTokenError('missing', 'an access token is required');
    const [given, token, ...rest] = header.trim().split(/\s+/);
    const scheme = given?.toLowerCase();
    if (scheme !== 'bearer' && scheme !== 'dpop')
      throw new AccessTokenError('missing', 'an access token is required');
    if (!token || rest.length) throw invalid('the Authorization header is malformed');
    return { scheme, token };
  }

  /**
   * Holds a token to its confirmation (cnf): none for a Bearer token; cnf.jkt (DPoP) to a
   * fresh, unused proof of that key; cnf.x5t#S256 (mTLS) to the certificate presented.
   */
  async function checkBinding(
    cnf: Record<string, unknown>,
    credentials: { scheme: 'bearer' | 'dpop'; token: string },
    request: TokenRequest,
    apiName: string,
  ): Promise<void> {
    const algs = deps.dpopAlgorithms;
    const members = Object.keys(cnf);
    if (members.length === 0) {
      if (credentials.scheme === 'dpop')
        throw dpopInvalid('invalid_token', 'the access token is not DPoP-bound: send it as Bearer');
      return;
    }
    if (members.length !== 1 || !['jkt', 'x5t#S256'].includes(members[0]!))
      throw invalid(`the access token is bound in a way ${apiName} does not support`);
    if ('x5t#S256' in cnf) {
      if (credentials.scheme !== 'bearer')
        throw invalid('a certificate-bound access token is sent with the Bearer scheme');
      const certificate = request.certificate();
      if (!certificate || certificateThumbprint(certificate) !== cnf['x5t#S256'])
        throw invalid(
          'the access token is bound to a client certificate this request does not present',
        );
      return;
    }
    if (credentials.scheme !== 'dpop')
      throw dpopInvalid(
        'invalid_token',
        'a DPoP-bound access token must be sent with the DPoP scheme',
      );
    let proof: Awaited<ReturnType<typeof verifyDpopProof>>;
    try {
      proof = await verifyDpopProof({
        proof: request.dpop,
        method: request.method,
        url: request.url,
        accessToken: credentials.token,
        algorithms: algs,
        clockToleranceSeconds: deps.clockToleranceSeconds,
        now: Math.floor(Date.now() / 1000),
      });
    } catch (err) {
      if (err instanceof DpopProofError) throw dpopInvalid('invalid_dpop_proof', err.message);
      throw err;
    }
    if (proof.jkt !== cnf.jkt)
      throw dpopInvalid(
        'invalid_token',
        'the DPoP proof is not signed with the key the access token is bound to',
      );
    // Last, so that only a proof that passed every other check uses up its jti.
    if (!(await deps.claimProof(proofReplayId(proof), new Date(proof.acceptableUntil * 1000))))
      throw dpopInvalid('invalid_dpop_proof', 'the DPoP proof has been used before');
  }

  async function verifyJwt(token: string, audience: string | undefined, apiName: string) {
    const { jwks, algs } = keys();
    // Checked against the system time, not the injected clock: oidc-provider stamps iat and
    // exp with the system time.
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: deps.issuer,
        ...(audience ? { audience } : {}),
        typ: 'at+jwt',
        algorithms: algs,
        clockTolerance: deps.clockToleranceSeconds,
        requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'aud'],
      });
      return payload as Record<string, unknown>;
    } catch (err) {
      throw invalid(describeJoseError(err, apiName));
    }
  }

  async function findOpaque(token: string, audience: string | undefined, apiName: string) {
    const found = deps.findOpaque && token.length <= 512 ? await deps.findOpaque(token) : undefined;
    if (!found)
      throw invalid(
        deps.findOpaque ? 'the access token is not valid' : 'the access token is malformed',
      );
    const aud = found.aud;
    if (audience && !(Array.isArray(aud) ? aud.includes(audience) : aud === audience))
      throw invalid(`the access token is not for ${apiName}`);
    return found;
  }

  return {
    /** Algorithms a DPoP proof may use (named in a DPoP challenge). */
    dpopAlgorithms: deps.dpopAlgorithms,

    /** Verifies the request's token and its binding; throws AccessTokenError. */
    async verify(request: TokenRequest, options: VerifyOptions = {}): Promise<VerifiedToken> {
      const apiName = options.audienceName ?? 'this API';
      const credentials = credentialsOf(request.authorization);
      if (credentials.scheme === 'bearer' && request.dpop)
        throw invalid('a DPoP proof goes with a DPoP-bound token and the DPoP scheme, not Bearer');
      const payload = credentials.token.includes('.')
        ? await verifyJwt(credentials.token, options.audience, apiName)
        : await findOpaque(credentials.token, options.audience, apiName);
      const cnf = payload.cnf ?? {};
      if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf))
        throw invalid("the access token's cnf claim is not valid");
      await checkBinding(cnf as Record<string, unknown>, credentials, request, apiName);
      const aud = payload.aud;
      return {
        payload,
        clientId: String(payload.client_id),
        sub: String(payload.sub),
        audiences: (Array.isArray(aud) ? aud : [aud]).filter(
          (a): a is string => typeof a === 'string',
        ),
        scopes: new Set(
          typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
        ),
      };
    },
  };
}

export type AccessTokenVerifier = ReturnType<typeof createAccessTokenVerifier>;
