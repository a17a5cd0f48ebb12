// Who calls the admin API: a JWT access token (RFC 9068) for {ISSUER}/admin/v1 checked against
// the running key ring; a person's token also needs level 2, an active account and the role.
// And what a caller may hand out: admin scopes only with admin:grant-admin, and only those held.
// Sender-constrained tokens (DPoP, mTLS) are held to their binding (src/oidc/accessTokens.ts).
import type { Accounts } from '../accounts/accounts.ts';
import type { KeyRing } from '../keys/signingKeys.ts';
import type { RateLimit } from '../limits/rateLimit.ts';
import type { Assurance } from '../mfa/assurance.ts';
import {
  AccessTokenError,
  createAccessTokenVerifier,
  type TokenRequest,
  type VerifiedToken,
} from '../oidc/accessTokens.ts';
import type { ClientRegistry } from '../oidc/clients.ts';
import { GRANT_ADMIN } from './adminApi.ts';
import { Problem } from './problem.ts';

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
export type AdminRequest = TokenRequest;

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

/** The admin API's answer to a refused token: its problem, with the challenge of its realm. */
function problemOf(err: AccessTokenError, algs: readonly string[]): Problem {
  if (err.code === 'missing') return missingToken();
  if (err.scheme === 'DPoP') return dpopProblem(err.code, err.message, algs);
  return invalidToken(err.message);
}

export function createAdminAuth(deps: AuthDeps) {
  const verifier = createAccessTokenVerifier(deps);

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
      let verified: VerifiedToken;
      try {
        verified = await verifier.verify(request, {
          audience: deps.audience,
          audienceName: 'the admin API',
        });
      } catch (err) {
        if (err instanceof AccessTokenError) throw problemOf(err, deps.dpopAlgorithms);
        throw err;
      }
      const { payload } = verified;
      const clientId = String(payload.client_id);
      const sub = String(payload.sub);
      let { scopes } = verified;
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
