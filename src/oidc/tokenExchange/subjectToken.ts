// Token exchange (RFC 8693): the subject token a resource server presents, verified as a live
// access token Portcullis issued to a person: an opaque token found in the store with its grant,
// or a JWT (RFC 9068) signed by the running key ring whose grant still stands.
import { jwtVerify } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { KeyRing } from '../../keys/signingKeys.ts';
import { ringVerificationKeys } from '../ringVerificationKeys.ts';

export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** What an exchange needs to know of the person's token (never the token itself). */
export interface SubjectToken {
  accountId: string;
  /** The client the token was issued to. */
  clientId: string;
  /** The API the token is for. */
  audience: string;
  scopes: string[];
  /** Expiry (seconds since the epoch): the exchanged token never outlives it. */
  exp: number;
  /** The login behind it (the exchanged token keeps it, and no scope above its level). */
  acr: string | undefined;
  amr: unknown;
  authTime: unknown;
  /** The chain of actors when the token is itself the result of an exchange. */
  act: Record<string, unknown> | undefined;
  /** API identifier -> scopes the person granted, in the grant behind the token. */
  granted: Record<string, string[]>;
}

export interface SubjectTokenDeps {
  issuer: string;
  clockToleranceSeconds: number;
  ring: () => KeyRing;
  /** The live grants of a person for a client: API identifier -> scopes, one map per grant. */
  grantsOf: (accountId: string, clientId: string) => Promise<Record<string, string[]>[]>;
  /** True when a JWT access token was revoked by its jti (none: only its grant is checked). */
  isRevokedJti?: ((jti: string) => Promise<boolean>) | undefined;
}

/** invalid_grant with a description the caller can act on (oidc-provider's own hides it). */
export const invalidGrant = (description: string) =>
  new errors.CustomOIDCProviderError('invalid_grant', description);

const INACTIVE = 'the subject token is not active (unknown, expired or revoked)';

const scopeList = (value: unknown): string[] =>
  typeof value === 'string' ? value.split(' ').filter(Boolean) : [];

const resourcesOf = (resources: unknown): Record<string, string[]> =>
  Object.fromEntries(
    Object.entries((resources ?? {}) as Record<string, unknown>).map(([r, s]) => [r, scopeList(s)]),
  );

/** Union of several grants' API scopes. */
function union(maps: Record<string, string[]>[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const map of maps)
    for (const [api, scopes] of Object.entries(map))
      out[api] = [...new Set([...(out[api] ?? []), ...scopes])];
  return out;
}

export function createSubjectTokens(deps: SubjectTokenDeps) {
  const keys = ringVerificationKeys(deps.ring);

  /** An opaque access token of a person, from the store, with the grant it came from. */
  async function opaque(ctx: KoaContextWithOIDC, value: string): Promise<SubjectToken> {
    const { provider } = ctx.oidc;
    const token = value.length <= 512 ? await provider.AccessToken.find(value) : undefined;
    if (!token?.isValid || !token.accountId || !token.grantId || typeof token.aud !== 'string')
      throw invalidGrant(INACTIVE);
    const grant = await provider.Grant.find(token.grantId);
    if (!grant || grant.clientId !== token.clientId || grant.accountId !== token.accountId)
      throw invalidGrant(INACTIVE);
    const extra = (token.extra ?? {}) as Record<string, unknown>;
    return {
      accountId: token.accountId,
      clientId: token.clientId!,
      audience: token.aud,
      scopes: scopeList(token.scope),
      exp: token.exp!,
      acr: typeof extra.acr === 'string' ? extra.acr : undefined,
      amr: extra.amr,
      authTime: extra.auth_time,
      act: actOf(extra.act),
      granted: resourcesOf((grant as { resources?: unknown }).resources),
    };
  }

  /** A JWT access token: signature, issuer, type and expiry; then its grant must still stand. */
  async function jwt(value: string): Promise<SubjectToken> {
    const { jwks, algs } = keys();
    let payload: Record<string, unknown>;
    try {
      // The system time, as oidc-provider stamps iat and exp with it.
      ({ payload } = await jwtVerify(value, jwks, {
        issuer: deps.issuer,
        typ: 'at+jwt',
        algorithms: algs,
        clockTolerance: deps.clockToleranceSeconds,
        requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'aud', 'jti'],
      }));
    } catch {
      throw invalidGrant(INACTIVE);
    }
    const { sub, client_id: clientId, aud, jti } = payload;
    if (typeof aud !== 'string' || typeof clientId !== 'string' || typeof sub !== 'string')
      throw invalidGrant(INACTIVE);
    // A client credentials token names its client as sub: no person behind it.
    if (sub === clientId) throw invalidGrant("the subject token is not a person's access token");
    if (deps.isRevokedJti && (await deps.isRevokedJti(String(jti)))) throw invalidGrant(INACTIVE);
    // JWTs name no grant: a person who revoked every grant of the client revoked its tokens.
    const grants = await deps.grantsOf(sub, clientId);
    if (grants.length === 0) throw invalidGrant(INACTIVE);
    return {
      accountId: sub,
      clientId,
      audience: aud,
      scopes: scopeList(payload.scope),
      exp: Number(payload.exp),
      acr: typeof payload.acr === 'string' ? payload.acr : undefined,
      amr: payload.amr,
      authTime: payload.auth_time,
      act: actOf(payload.act),
      granted: union(grants),
    };
  }

  return {
    /** Verifies the subject token; throws invalid_grant for anything not a live person's token. */
    async verify(ctx: KoaContextWithOIDC, value: string): Promise<SubjectToken> {
      if (value.split('.').length === 3) return jwt(value);
      const found = await opaque(ctx, value).catch(async (err) => {
        // A client credentials token is stored apart: say what it is rather than "unknown".
        if (value.length <= 512 && (await ctx.oidc.provider.ClientCredentials.find(value)))
          throw invalidGrant("the subject token is not a person's access token");
        throw err;
      });
      return found;
    },
  };
}

function actOf(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

export type SubjectTokens = ReturnType<typeof createSubjectTokens>;
