// Who calls the admin API: a JWT access token (RFC 9068) for {ISSUER}/admin/v1 checked against
// the running key ring; a person's token also needs level 2, an active account and the role.
// And what a caller may hand out: admin scopes only with admin:grant-admin, and only those held.
import { createLocalJWKSet, type JWK, errors as joseErrors, jwtVerify } from 'jose';
import type { Accounts } from '../accounts/accounts.ts';
import type { KeyRing } from '../keys/signingKeys.ts';
import type { RateLimit } from '../limits/rateLimit.ts';
import type { Assurance } from '../mfa/assurance.ts';
import type { ClientRegistry } from '../oidc/clients.ts';
import { GRANT_ADMIN } from './adminApi.ts';
import { Problem } from './problem.ts';

export const REALM = 'portcullis-admin';
/** The level a person must have signed in at for any admin scope. */
export const ADMIN_LEVEL = 2;
const PRIVATE_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

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
}

/** A quoted-string of a WWW-Authenticate parameter (RFC 9110): no quotes or backslashes inside. */
const quoted = (value: string) => `"${value.replace(/["\\]/g, "'")}"`;

function challenge(params: Record<string, string>): string {
  const parts = Object.entries({ realm: REALM, ...params }).map(([k, v]) => `${k}=${quoted(v)}`);
  return `Bearer ${parts.join(', ')}`;
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
  Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE_MEMBERS.has(k))) as JWK;

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

  /** The bearer token of a request; throws the 401 problem when there is none or another kind. */
  function bearerOf(header: string | undefined): string {
    if (!header) throw missingToken();
    const [scheme, token, ...rest] = header.trim().split(/\s+/);
    if (scheme?.toLowerCase() === 'dpop')
      throw invalidToken('DPoP-bound access tokens are not accepted by the admin API');
    if (scheme?.toLowerCase() !== 'bearer') throw missingToken();
    if (!token || rest.length) throw invalidToken('the Authorization header is malformed');
    return token;
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
    async authenticate(authorization: string | undefined): Promise<Principal> {
      const token = bearerOf(authorization);
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
      const cnf = payload.cnf as Record<string, unknown> | undefined;
      if (cnf && Object.keys(cnf).length > 0)
        throw invalidToken('sender-constrained (DPoP or mTLS) tokens are not accepted here');
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
