// Introspection (RFC 7662) and revocation (RFC 7009) of Portcullis' own JWT access tokens through
// the library's endpoints, which refuse structured tokens: a JWT sent there is swapped for a
// handle only this process mints, and the AccessToken/ClientCredentials adapters read the handle
// as the token the JWT stands for (verified with the key ring, unexpired, not revoked), so the
// library's own checks apply unchanged (grant alive, allowedPolicy, consent, response shape).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import type Provider from 'oidc-provider';
import type { KeyRing } from '../keys/signingKeys.ts';
import type { RevokedJwtStore } from './revokedJwtStore.ts';
import { type VerificationKeys, verificationKeysOf } from './ringVerificationKeys.ts';

/** The claim of a person's JWT access token naming the grant it was issued from. */
export const GRANT_CLAIM = 'grant_id';

/** Routes where a JWT stands for the token it is (the library's route names). */
const ROUTES = new Set(['introspection', 'revocation']);
const MODELS = new Set(['AccessToken', 'ClientCredentials']);
/** Claims the model keeps in fields of its own; every other claim is the token's `extra`. */
const MODEL_CLAIMS = new Set([
  'jti',
  'sub',
  'iat',
  'exp',
  'nbf',
  'iss',
  'aud',
  'scope',
  'client_id',
  'cnf',
  'authorization_details',
  GRANT_CLAIM,
]);
const PREFIX = 'jwt~';

type Payload = Record<string, unknown>;
interface Adapter {
  upsert(id: string, payload: Payload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<Payload | undefined>;
  findByUid(uid: string): Promise<Payload | undefined>;
  findByUserCode(userCode: string): Promise<Payload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

export interface JwtIntrospectionOptions {
  issuer: string;
  clockToleranceSeconds: number;
  revoked: RevokedJwtStore;
}

const looksLikeJwt = (token: string) => {
  try {
    return !!decodeProtectedHeader(token);
  } catch {
    return false;
  }
};

/** Every method of the store's adapter, as it is. */
const delegate = (base: Adapter): Adapter => ({
  upsert: (id, payload, expiresIn) => base.upsert(id, payload, expiresIn),
  find: (id) => base.find(id),
  findByUid: (uid) => base.findByUid(uid),
  findByUserCode: (code) => base.findByUserCode(code),
  consume: (id) => base.consume(id),
  destroy: (id) => base.destroy(id),
  revokeByGrantId: (grantId) => base.revokeByGrantId(grantId),
});

export function createJwtIntrospection(options: JwtIntrospectionOptions) {
  // Handles are tagged with a key of this process: a handle is only ever minted here, for the
  // request that carried the JWT, so nobody can present one anywhere else (e.g. at userinfo).
  const secret = randomBytes(32);
  const tag = (jwt: string) => createHmac('sha256', secret).update(jwt).digest('base64url');
  const handleOf = (jwt: string) => `${PREFIX}${tag(jwt)}~${jwt}`;
  /** The JWT a handle stands for; undefined for any other id. */
  function jwtOf(id: string): string | undefined {
    if (!id.startsWith(PREFIX)) return undefined;
    const at = id.indexOf('~', PREFIX.length);
    if (at < 0) return undefined;
    const given = Buffer.from(id.slice(PREFIX.length, at));
    const jwt = id.slice(at + 1);
    const expected = Buffer.from(tag(jwt));
    return given.length === expected.length && timingSafeEqual(given, expected) ? jwt : undefined;
  }

  /** The claims of a JWT access token this issuer signed and that has not expired. */
  async function verified(jwt: string, keys: VerificationKeys): Promise<JWTPayload | undefined> {
    try {
      // The system time, as oidc-provider stamps iat and exp with it.
      const { payload } = await jwtVerify(jwt, keys.jwks, {
        issuer: options.issuer,
        typ: 'at+jwt',
        algorithms: keys.algs,
        clockTolerance: options.clockToleranceSeconds,
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id', 'aud'],
      });
      return typeof payload.jti === 'string' && typeof payload.client_id === 'string'
        ? payload
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** The model payload a JWT stands for: a person's token names its grant, a client's does not. */
  function payloadOf(model: string, id: string, claims: JWTPayload): Payload | undefined {
    const grantId = claims[GRANT_CLAIM];
    const clientId = claims.client_id as string;
    if (model === 'AccessToken' && typeof grantId !== 'string') return undefined;
    if (model === 'ClientCredentials' && (grantId !== undefined || claims.sub !== clientId))
      return undefined;
    const extra = Object.fromEntries(Object.entries(claims).filter(([k]) => !MODEL_CLAIMS.has(k)));
    const cnf = (claims.cnf ?? {}) as Record<string, unknown>;
    return {
      kind: model,
      jti: id,
      iat: claims.iat,
      exp: claims.exp,
      clientId,
      aud: claims.aud,
      scope: claims.scope,
      ...(Object.keys(extra).length ? { extra } : {}),
      ...(claims.authorization_details ? { rar: claims.authorization_details } : {}),
      ...(typeof cnf.jkt === 'string' ? { jkt: cnf.jkt } : {}),
      ...(typeof cnf['x5t#S256'] === 'string' ? { 'x5t#S256': cnf['x5t#S256'] } : {}),
      ...(model === 'AccessToken' ? { accountId: claims.sub, grantId } : {}),
    };
  }

  return {
    /**
     * Wraps the adapter of a token model for the provider built with `ring`: a handle is found
     * as the token of its JWT (unless revoked), and destroying it records the jti as revoked
     * until the token expires. Every other id goes to the store as before.
     */
    adapter(model: string, base: Adapter, ring: KeyRing): Adapter {
      // A handle is never a refresh token: answered here, without a query.
      if (model === 'RefreshToken')
        return {
          ...delegate(base),
          find: (id) => (id.startsWith(PREFIX) ? Promise.resolve(undefined) : base.find(id)),
          destroy: (id) => (id.startsWith(PREFIX) ? Promise.resolve() : base.destroy(id)),
        };
      if (!MODELS.has(model)) return base;
      let keys: VerificationKeys | undefined;
      const claimsOf = async (id: string) => {
        const jwt = jwtOf(id);
        if (jwt === undefined) return undefined;
        keys ??= verificationKeysOf(ring);
        return verified(jwt, keys);
      };
      return {
        ...delegate(base),
        async find(id) {
          if (!id.startsWith(PREFIX)) return base.find(id);
          const claims = await claimsOf(id);
          const payload = claims && payloadOf(model, id, claims);
          if (!payload || (await options.revoked.isRevoked(claims!.jti!))) return undefined;
          return payload;
        },
        async destroy(id) {
          if (!id.startsWith(PREFIX)) return base.destroy(id);
          const claims = await claimsOf(id);
          if (!claims) return;
          await options.revoked.revoke(
            claims.jti!,
            claims.client_id as string,
            new Date(claims.exp! * 1000),
          );
        },
      };
    },

    /**
     * Swaps a JWT sent to the introspection or revocation endpoint for its handle, as soon as
     * the request names its client (before the library's refusal of structured tokens).
     */
    install(provider: Provider): void {
      const context = provider.OIDCContext.prototype as unknown as {
        entity(
          this: { route: string; params?: Record<string, unknown> },
          k: string,
          v: unknown,
        ): void;
      };
      const assign = context.entity;
      context.entity = function entity(key, value) {
        assign.call(this, key, value);
        if (key !== 'Client' || !ROUTES.has(this.route)) return;
        const token = this.params?.token;
        if (typeof token === 'string' && looksLikeJwt(token) && this.params)
          this.params.token = handleOf(token);
      };
    },

    /** oidc-provider's `formats`: a person's JWT access token names its grant (no query). */
    formats: {
      customizers: {
        jwt: (
          _ctx: unknown,
          token: { kind?: string; grantId?: unknown },
          jwt: { payload: Payload },
        ) => {
          if (token.kind === 'AccessToken' && typeof token.grantId === 'string')
            jwt.payload[GRANT_CLAIM] = token.grantId;
        },
      },
    },
  };
}

export type JwtIntrospection = ReturnType<typeof createJwtIntrospection>;
