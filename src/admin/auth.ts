// Who calls the admin API: a JWT access token (RFC 9068) for {ISSUER}/admin/v1 checked against
// the running key ring; a person's token also needs level 2, an active account and the role.
// And what a caller may hand out: admin scopes only with admin:grant-admin, and only those held.
// Sender-constrained tokens (DPoP, mTLS) are held to their binding (src/admin/senderConstraint.ts).
import type { X509Certificate } from 'node:crypto';
import { createLocalJWKSet, type JWK, errors as joseErrors, jwtVerify } from 'jose';
import type { Accounts } from '../accounts/accounts.ts';
import type { KeyRing } from '../keys/signingKeys.ts';
import type { RateLimit } from '../limits/rateLimit.ts';
import type { Assurance } from '../mfa/assurance.ts';
import { PRIVATE_JWK_MEMBERS } from '../oidc/clientRules.ts';
import type { ClientRegistry } from '../oidc/clients.ts';
import { GRANT_ADMIN } from './adminApi.ts';
import { Problem } from './problem.ts';
import {
  certificateThumbprint,
  DpopProofError,
  proofReplayId,
  verifyDpopProof,
} from './senderConstraint.ts';

export const REALM = 'portcullis-admin';
/** The level a person must have signed in at for any admin scope. */
export const ADMIN_LEVEL = 2;

export interface Principal {
  kind: 'client' | 'person';
  clientId: string;
  userId: string | undefined;
  /** Scopes the token carries that the caller still holds. */
  scopes: Set<string>;
  /** Who acted, for the audit log. */
  actor: { type: 'client' | 'admin'; id: string };
  /** The request limit of the token's client (null: the default). */
  rateLimit: RateLimit | null;
}

export interface AuthDeps {
  issuer: string;
  audience: string;
  clockToleranceSeconds: number;
  ring: () => KeyRing;
  assurance: Assurance;
  accounts: Accounts;
  clients: ClientRegistry;
  /** Algorithms a DPoP proof may be signed with (the token endpoint's list). */
  dpopAlgorithms: readonly string[];
  /**
   * Records a proof's replay id in the store shared by every instance until `until`; true when
   * it is new (exactly one caller per id).
   */
  claimProof: (id: string, until: Date) => Promise<boolean>;
}

/** What authenticating an admin request looks at. */
export interface AdminRequest {
  authorization: string | undefined;
  /** The DPoP header as received. */
  dpop: string | undefined;
  method: string;
  /** The request URL without query or fragment, on ISSUER's origin (never the Host header's). */
  url: string;
  /** The client certificate of the connection or of the trusted proxy's header, if any. */
  certificate: () => X509Certificate | undefined;
}

/** A quoted-string of a WWW-Authenticate parameter (RFC 9110): no quotes or backslashes inside. */
const quoted = (value: string) => `"${value.replace(/["\\]/g, "'")}"`;

function challenge(params: Record<string, string>, scheme = 'Bearer'): string {
  const parts = Object.entries({ realm: REALM, ...params }).map(([k, v]) => `${k}=${quoted(v)}`);
  return `${scheme} ${parts.join(', ')}`;
}

/**
 * A 401 about a DPoP-bound token or its proof: the DPoP challenge with the algorithms a proof
 * may use (RFC 9449 §7.1); `invalid_dpop_proof` for the proof, `invalid_token` for the token.
 */
function dpopProblem(
  error: 'invalid_token' | 'invalid_dpop_proof',
  description: string,
  algs: readonly string[],
): Problem {
  const title = error === 'invalid_token' ? 'Invalid access token' : 'Invalid DPoP proof';
  return new Problem(401, error, title, description, {
    error,
    headers: {
      'WWW-Authenticate': challenge(
        { error, error_description: description, algs: algs.join(' ') },
        'DPoP',
      ),
    },
  });
}

export function missingToken(): Problem {
  return new Problem(401, 'unauthorized', 'Unauthorized', 'an access token is required', {
    headers: { 'WWW-Authenticate': challenge({}) },
  });
}

export function invalidToken(description: string): Problem {
  return new Problem(401, 'invalid_token', 'Invalid access token', description, {
    error: 'invalid_token',
    headers: {
      'WWW-Authenticate': challenge({ error: 'invalid_token', error_description: description }),
    },
  });
}

/** 403 insufficient_scope; the router records each as an `admin_api.denied` audit event. */
export class InsufficientScope extends Problem {
  constructor(
    /** The scopes the caller lacks (named in WWW-Authenticate, space-separated). */
    readonly missing: string[],
    detail: string,
    /** The admin scopes the request would have handed out, when that is why. */
    readonly granting?: string[],
  ) {
    super(403, 'insufficient_scope', 'insufficient_scope', detail, {
      error: 'insufficient_scope',
      headers: {
        'WWW-Authenticate': challenge({ error: 'insufficient_scope', scope: missing.join(' ') }),
      },
    });
  }
}

export function insufficientScope(scope: string): InsufficientScope {
  return new InsufficientScope([scope], `this request needs the scope ${scope}`);
}

/**
 * Handing out admin scopes (on a client, an initial access token or a role, or by giving someone
 * a role that carries them) needs admin:grant-admin and every scope handed out. Throws the 403
 * naming what is missing; does nothing when no admin scope is handed out.
 */
export function requireGrantable(principal: Principal, adminScopes: Iterable<string>): void {
  const granting = [...new Set(adminScopes)].sort();
  if (granting.length === 0) return;
  const missing = [GRANT_ADMIN, ...granting.filter((s) => s !== GRANT_ADMIN)].filter(
    (s) => !principal.scopes.has(s),
  );
  if (missing.length === 0) return;
  throw new InsufficientScope(
    missing,
    `handing out ${granting.join(', ')} needs the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
    granting,
  );
}

/** RFC 9470: the person must sign in again at a higher level. */
function insufficientAuthentication(acrValues: string[]): Problem {
  const description = `sign in with a second factor (level ${ADMIN_LEVEL} or more) for the admin API`;
  return new Problem(401, 'insufficient_user_authentication', 'Step-up required', description, {
    error: 'insufficient_user_authentication',
    headers: {
      'WWW-Authenticate': challenge({
        error: 'insufficient_user_authentication',
        error_description: description,
        acr_values: acrValues.join(' '),
      }),
    },
  });
}

/** Why jose refused a token, in words that reveal nothing about the keys. */
function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the access token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'the access token is not for the admin API';
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

const publicPart = (jwk: JWK): JWK =>
  Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE_JWK_MEMBERS.includes(k))) as JWK;

export function createAdminAuth(deps: AuthDeps) {
  let cached: { fingerprint: string; jwks: ReturnType<typeof createLocalJWKSet>; algs: string[] };

  /** The public keys of the current ring (rebuilt when the ring changes). */
  function keys() {
    const ring = deps.ring();
    if (cached?.fingerprint !== ring.fingerprint) {
      const published = ring.jwks.map(publicPart);
      cached = {
        fingerprint: ring.fingerprint,
        jwks: createLocalJWKSet({ keys: published }),
        algs: [...new Set(published.map((k) => k.alg).filter((a): a is string => !!a))],
      };
    }
    return cached;
  }

  /** The scheme and token of a request; throws the 401 problem when there is none or another kind. */
  function credentialsOf(header: string | undefined): { scheme: 'bearer' | 'dpop'; token: string } {
    if (!header) throw missingToken();
    const [given, token, ...rest] = header.trim().split(/\s+/);
    const scheme = given?.toLowerCase();
    if (scheme !== 'bearer' && scheme !== 'dpop') throw missingToken();
    if (!token || rest.length) throw invalidToken('the Authorization header is malformed');
    return { scheme, token };
  }

  /**
   * Holds a token to its confirmation (cnf): none for a Bearer token; cnf.jkt (DPoP) to a
   * fresh, unused proof of that key; cnf.x5t#S256 (mTLS) to the certificate presented.
   */
  async function checkBinding(
    cnf: Record<string, unknown>,
    credentials: { scheme: 'bearer' | 'dpop'; token: string },
    request: AdminRequest,
  ): Promise<void> {
    const algs = deps.dpopAlgorithms;
    const members = Object.keys(cnf);
    if (members.length === 0) {
      if (credentials.scheme === 'dpop')
        throw dpopProblem(
          'invalid_token',
          'the access token is not DPoP-bound: send it as Bearer',
          algs,
        );
      return;
    }
    if (members.length !== 1 || !['jkt', 'x5t#S256'].includes(members[0]!))
      throw invalidToken('the access token is bound in a way the admin API does not support');
    if ('x5t#S256' in cnf) {
      if (credentials.scheme !== 'bearer')
        throw invalidToken('a certificate-bound access token is sent with the Bearer scheme');
      const certificate = request.certificate();
      if (!certificate || certificateThumbprint(certificate) !== cnf['x5t#S256'])
        throw invalidToken(
          'the access token is bound to a client certificate this request does not present',
        );
      return;
    }
    if (credentials.scheme !== 'dpop')
      throw dpopProblem(
        'invalid_token',
        'a DPoP-bound access token must be sent with the DPoP scheme',
        algs,
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
      if (err instanceof DpopProofError) throw dpopProblem('invalid_dpop_proof', err.message, algs);
      throw err;
    }
    if (proof.jkt !== cnf.jkt)
      throw dpopProblem(
        'invalid_token',
        'the DPoP proof is not signed with the key the access token is bound to',
        algs,
      );
    // Last, so that only a proof that passed every other check uses up its jti.
    if (!(await deps.claimProof(proofReplayId(proof), new Date(proof.acceptableUntil * 1000))))
      throw dpopProblem('invalid_dpop_proof', 'the DPoP proof has been used before', algs);
  }

  async function personScopes(userId: string, acr: unknown, scopes: Set<string>) {
    const level = typeof acr === 'string' ? deps.assurance.levelOf(acr) : 0;
    if (level < ADMIN_LEVEL)
      throw insufficientAuthentication(deps.assurance.values.slice(ADMIN_LEVEL - 1));
    const user = await deps.accounts.get(userId);
    if (user?.status !== 'active') throw invalidToken('the account of this token is not active');
    // Held on the admin API: a role's scope of the same name on another API counts for nothing.
    const held = new Set((await deps.accounts.scopesOf(userId))[deps.audience] ?? []);
    return new Set([...scopes].filter((s) => held.has(s)));
  }

  return {
    /** Verifies the request's token; throws a 401 Problem with its WWW-Authenticate header. */
    async authenticate(request: AdminRequest): Promise<Principal> {
      const credentials = credentialsOf(request.authorization);
      if (credentials.scheme === 'bearer' && request.dpop)
        throw invalidToken(
          'a DPoP proof goes with a DPoP-bound token and the DPoP scheme, not Bearer',
        );
      const { token } = credentials;
      const { jwks, algs } = keys();
      let payload: Record<string, unknown>;
      // Checked against the system time, not the injected clock: oidc-provider stamps iat and
      // exp with the system time.
      try {
        ({ payload } = await jwtVerify(token, jwks, {
          issuer: deps.issuer,
          audience: deps.audience,
          typ: 'at+jwt',
          algorithms: algs,
          clockTolerance: deps.clockToleranceSeconds,
          requiredClaims: ['exp', 'iat', 'sub', 'client_id'],
        }));
      } catch (err) {
        throw invalidToken(describeJoseError(err));
      }
      const cnf = payload.cnf ?? {};
      if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf))
        throw invalidToken("the access token's cnf claim is not valid");
      await checkBinding(cnf as Record<string, unknown>, credentials, request);
      const clientId = String(payload.client_id);
      const sub = String(payload.sub);
      let scopes = new Set(
        typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
      );
      // The client must still exist and still be allowed these scopes on the admin API.
      const client = await deps.clients.get(clientId);
      if (!client) throw invalidToken('the client of this token no longer exists');
      const allowed = new Set(client.apiAccess[deps.audience] ?? []);
      scopes = new Set([...scopes].filter((s) => allowed.has(s)));

      if (sub === clientId) {
        return {
          kind: 'client',
          clientId,
          userId: undefined,
          scopes,
          actor: { type: 'client', id: clientId },
          rateLimit: client.rateLimit,
        };
      }
      return {
        kind: 'person',
        clientId,
        userId: sub,
        scopes: await personScopes(sub, payload.acr, scopes),
        actor: { type: 'admin', id: sub },
        rateLimit: client.rateLimit,
      };
    },

    /** Throws the 403 insufficient_scope problem unless the caller holds `scope`. */
    requireScope(principal: Principal, scope: string): void {
      if (!principal.scopes.has(scope)) throw insufficientScope(scope);
    },
  };
}

export type AdminAuth = ReturnType<typeof createAdminAuth>;
