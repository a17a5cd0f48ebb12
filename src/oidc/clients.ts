// The client registry: creates, changes and deletes OAuth clients. Clients live in PostgreSQL;
// secrets are generated here, shown once, and stored only sealed (envelope encryption).
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';
import { createTtlCache } from '../cache.ts';
import type { Clock } from '../clock.ts';
import { DomainError, invalid, notFound } from '../errors.ts';
import type { Sealer } from '../keys/envelope.ts';
import type { Catalogue } from './catalogue.ts';
import { type ClientRow, createClientStore } from './clientStore.ts';

export type GrantType = 'authorization_code' | 'client_credentials' | 'refresh_token';
export type AuthMethod = 'private_key_jwt' | 'client_secret_basic' | 'client_secret_post' | 'none';

export const GRANT_TYPES: readonly GrantType[] = [
  'authorization_code',
  'client_credentials',
  'refresh_token',
];
export const AUTH_METHODS: readonly AuthMethod[] = [
  'private_key_jwt',
  'client_secret_basic',
  'client_secret_post',
  'none',
];
const SECRET_METHODS = new Set<AuthMethod>(['client_secret_basic', 'client_secret_post']);
/** Scopes of OpenID Connect itself that every login client may ask for. */
const OIDC_SCOPES = ['openid', 'profile', 'email'];

/** What an administrator decides about a client. */
export interface ClientInput {
  name: string;
  grantTypes: GrantType[];
  redirectUris?: string[] | undefined;
  postLogoutRedirectUris?: string[] | undefined;
  authMethod: AuthMethod;
  jwks?: { keys: Record<string, unknown>[] } | undefined;
  jwksUri?: string | undefined;
  /** API identifier -> the scopes of that API this client may ask for. */
  apiAccess: Record<string, string[]>;
  firstParty?: boolean | undefined;
  /** Lowest assurance level a login for this client must reach (1-3; default 1). */
  minAssuranceLevel?: 1 | 2 | 3 | undefined;
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
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

/** Checks one redirect URI: absolute, no fragment, https except on loopback. */
export function validateRedirectUri(uri: string, field = 'redirectUris'): string {
  const url = URL.parse(uri);
  if (!url || uri.includes('#'))
    throw invalid(`redirect URI ${uri} must be absolute and have no fragment`, field);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw invalid(`redirect URI ${uri} must use https (http is allowed only on loopback)`, field);
  }
  return uri;
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

export interface ClientRegistryOptions {
  knex: Knex;
  sealer: Sealer;
  clock: Clock;
  catalogue: Catalogue;
  cacheSeconds: number;
  /** Signing algorithm for ID tokens (the key ring's algorithm). */
  idTokenAlg: string;
  /** Full validation by the protocol library; throws DomainError('invalid_input') on bad metadata. */
  validateMetadata: (metadata: Record<string, unknown>) => Promise<void>;
}

export function createClientRegistry(options: ClientRegistryOptions) {
  const { knex, sealer, clock, catalogue } = options;
  const store = createClientStore(knex);
  const cache = createTtlCache<Record<string, unknown> | undefined>(
    clock,
    options.cacheSeconds * 1000,
  );
  const secretContext = (clientId: string) => `clients:${clientId}:secret`;

  /** Turns administrator input into oidc-provider client metadata, validating each field. */
  async function toMetadata(
    clientId: string,
    input: ClientInput,
  ): Promise<Record<string, unknown>> {
    if (!input.name?.trim()) throw invalid('a client needs a name', 'name');
    const grantTypes = unique(input.grantTypes);
    if (grantTypes.length === 0)
      throw invalid('a client needs at least one grant type', 'grantTypes');
    for (const g of grantTypes) {
      if (!GRANT_TYPES.includes(g))
        throw invalid(`unknown grant type ${g} (allowed: ${GRANT_TYPES.join(', ')})`, 'grantTypes');
    }
    if (!AUTH_METHODS.includes(input.authMethod)) {
      throw invalid(
        `unknown authentication method ${input.authMethod} (allowed: ${AUTH_METHODS.join(', ')})`,
        'authMethod',
      );
    }
    const login = grantTypes.includes('authorization_code');
    if (grantTypes.includes('refresh_token') && !login) {
      throw invalid('refresh_token needs the authorization_code grant', 'grantTypes');
    }
    if (input.authMethod === 'none' && grantTypes.includes('client_credentials')) {
      throw invalid(
        'a public client (no authentication) cannot use client_credentials',
        'grantTypes',
      );
    }
    const redirectUris = unique(input.redirectUris ?? []).map((u) => validateRedirectUri(u));
    const postLogout = unique(input.postLogoutRedirectUris ?? []).map((u) =>
      validateRedirectUri(u, 'postLogoutRedirectUris'),
    );
    if (login && redirectUris.length === 0)
      throw invalid('authorization_code clients need at least one redirect URI', 'redirectUris');
    if (!login && (redirectUris.length || postLogout.length)) {
      throw invalid(
        'redirect URIs only make sense with the authorization_code grant',
        'redirectUris',
      );
    }
    if (input.authMethod === 'private_key_jwt' && !input.jwks && !input.jwksUri) {
      throw invalid('private_key_jwt needs a JWKS or a JWKS URI', 'jwks');
    }
    if (input.authMethod !== 'private_key_jwt' && (input.jwks || input.jwksUri)) {
      throw invalid('a JWKS is only used with private_key_jwt', 'jwks');
    }
    if (input.jwks && input.jwksUri) throw invalid('give a JWKS or a JWKS URI, not both', 'jwks');
    if (input.jwksUri && URL.parse(input.jwksUri)?.protocol !== 'https:')
      throw invalid('the JWKS URI must use https', 'jwksUri');

    const apiAccess: Record<string, string[]> = {};
    for (const [identifier, scopes] of Object.entries(input.apiAccess)) {
      const api = await catalogue.findByIdentifier(identifier);
      if (!api) throw invalid(`no API with identifier ${identifier} is registered`, 'apiAccess');
      const defined = new Set(api.scopes.map((s) => s.name));
      const requested = unique(scopes);
      for (const s of requested) {
        if (!defined.has(s))
          throw invalid(`API ${identifier} does not define the scope ${s}`, 'apiAccess');
      }
      if (requested.length === 0)
        throw invalid(`choose at least one scope of ${identifier}`, 'apiAccess');
      apiAccess[identifier] = requested.sort();
    }
    if (!login && Object.keys(apiAccess).length === 0) {
      throw invalid('a client_credentials client needs access to at least one API', 'apiAccess');
    }

    // `scope` holds the OpenID Connect scopes only; API scopes are governed by api_access.
    const scope = unique([
      ...(login ? OIDC_SCOPES : []),
      ...(grantTypes.includes('refresh_token') ? ['offline_access'] : []),
    ]);
    const metadata: Record<string, unknown> = {
      client_id: clientId,
      client_name: input.name.trim(),
      grant_types: grantTypes,
      response_types: login ? ['code'] : [],
      redirect_uris: redirectUris,
      post_logout_redirect_uris: postLogout,
      token_endpoint_auth_method: input.authMethod,
      id_token_signed_response_alg: options.idTokenAlg,
      scope: scope.join(' ') || undefined,
      api_access: apiAccess,
      first_party: input.firstParty ?? false,
      min_assurance_level: input.minAssuranceLevel ?? 1,
    };
    if (![1, 2, 3].includes(metadata.min_assurance_level as number)) {
      throw invalid('the minimum assurance level must be 1, 2 or 3', 'minAssuranceLevel');
    }
    if (input.jwks) metadata.jwks = input.jwks;
    if (input.jwksUri) metadata.jwks_uri = input.jwksUri;
    for (const key of Object.keys(metadata)) if (metadata[key] === undefined) delete metadata[key];
    return metadata;
  }

  function toView(row: ClientRow): ClientView {
    const m = row.metadata as Record<string, never>;
    return {
      clientId: row.client_id,
      name: m.client_name ?? row.client_id,
      grantTypes: m.grant_types ?? [],
      redirectUris: m.redirect_uris ?? [],
      postLogoutRedirectUris: m.post_logout_redirect_uris ?? [],
      authMethod: m.token_endpoint_auth_method ?? 'client_secret_basic',
      jwksUri: m.jwks_uri,
      hasJwks: Boolean(m.jwks),
      apiAccess: m.api_access ?? {},
      firstParty: m.first_party === true,
      minAssuranceLevel: typeof m.min_assurance_level === 'number' ? m.min_assurance_level : 1,
      createdBy: row.created_by,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  const newSecret = () => randomBytes(32).toString('base64url');

  return {
    async create(
      input: ClientInput,
      createdBy = 'cli',
      fixedClientId?: string,
    ): Promise<{ client: ClientView; secret: string | undefined }> {
      const clientId = fixedClientId ?? randomBytes(16).toString('base64url');
      const metadata = await toMetadata(clientId, input);
      const secret = SECRET_METHODS.has(input.authMethod) ? newSecret() : undefined;
      await options.validateMetadata(secret ? { ...metadata, client_secret: secret } : metadata);
      const now = new Date(clock.now());
      const row: ClientRow = {
        client_id: clientId,
        metadata,
        secret_sealed: secret ? sealer.seal(secret, secretContext(clientId)) : null,
        created_by: createdBy,
        created_at: now,
        updated_at: now,
      };
      await store.insert(row);
      return { client: toView(row), secret };
    },

    /** Replaces what an administrator decides about a client; the secret stays unless the method changes. */
    async update(
      clientId: string,
      input: ClientInput,
    ): Promise<{ client: ClientView; secret: string | undefined }> {
      const row = await store.find(clientId);
      if (!row) throw notFound(`no client ${clientId}`);
      const metadata = await toMetadata(clientId, input);
      let sealed = row.secret_sealed;
      let secret: string | undefined;
      if (!SECRET_METHODS.has(input.authMethod)) sealed = null;
      else if (!sealed) {
        secret = newSecret();
        sealed = sealer.seal(secret, secretContext(clientId));
      }
      const current = sealed ? sealer.openString(sealed, secretContext(clientId)) : undefined;
      await options.validateMetadata(current ? { ...metadata, client_secret: current } : metadata);
      const updated = {
        ...row,
        metadata,
        secret_sealed: sealed,
        updated_at: new Date(clock.now()),
      };
      await store.update(clientId, {
        metadata,
        secret_sealed: sealed,
        updated_at: updated.updated_at,
      });
      cache.delete(clientId);
      return { client: toView(updated), secret };
    },

    /**
     * Makes sure a client Portcullis itself relies on exists with this definition (created or
     * brought up to date at start-up, e.g. when the issuer changed).
     */
    async ensureSystemClient(clientId: string, input: ClientInput): Promise<void> {
      const existing = await store.find(clientId);
      if (!existing) {
        await this.create(input, 'system', clientId);
        return;
      }
      const wanted = await toMetadata(clientId, input);
      if (!isDeepStrictEqual(wanted, existing.metadata)) await this.update(clientId, input);
    },

    async rotateSecret(clientId: string): Promise<string> {
      const row = await store.find(clientId);
      if (!row) throw notFound(`no client ${clientId}`);
      if (!row.secret_sealed)
        throw new DomainError('conflict', 'this client authenticates without a secret');
      const secret = newSecret();
      await store.update(clientId, {
        secret_sealed: sealer.seal(secret, secretContext(clientId)),
        updated_at: new Date(clock.now()),
      });
      cache.delete(clientId);
      return secret;
    },

    async delete(clientId: string): Promise<void> {
      if (!(await store.delete(clientId))) throw notFound(`no client ${clientId}`);
      cache.delete(clientId);
    },

    async get(clientId: string): Promise<ClientView | undefined> {
      const row = await store.find(clientId);
      return row ? toView(row) : undefined;
    },

    async list(): Promise<ClientView[]> {
      return (await store.list()).map(toView);
    },

    /** Metadata as oidc-provider reads it, secret opened; cached briefly (read on every request). */
    providerMetadata(clientId: string): Promise<Record<string, unknown> | undefined> {
      return cache.get(clientId, async () => {
        const row = await store.find(clientId);
        if (!row) return undefined;
        if (!row.secret_sealed) return row.metadata;
        return {
          ...row.metadata,
          client_secret: sealer.openString(row.secret_sealed, secretContext(clientId)),
        };
      });
    },

    /** Stores metadata written by dynamic registration (RFC 7591/7592): the secret is sealed here. */
    async saveProviderMetadata(
      clientId: string,
      metadata: Record<string, unknown>,
      createdBy: string,
    ): Promise<void> {
      const { client_secret: secret, ...rest } = metadata;
      const now = new Date(clock.now());
      await store.upsert({
        client_id: clientId,
        metadata: rest,
        secret_sealed:
          typeof secret === 'string' ? sealer.seal(secret, secretContext(clientId)) : null,
        created_by: createdBy,
        created_at: now,
        updated_at: now,
      });
      cache.delete(clientId);
    },

    async deleteProviderMetadata(clientId: string): Promise<void> {
      await store.delete(clientId);
      cache.delete(clientId);
    },

    async reencrypt(): Promise<number> {
      let moved = 0;
      for (const row of await store.sealedSecrets()) {
        if (sealer.keyIdOf(row.secret_sealed) === sealer.activeKeyId) continue;
        await store.update(row.client_id, { secret_sealed: sealer.rewrap(row.secret_sealed) });
        moved++;
      }
      return moved;
    },
  };
}

export type ClientRegistry = ReturnType<typeof createClientRegistry>;
