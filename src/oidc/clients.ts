// The client registry: creates, changes and deletes OAuth clients. Clients live in PostgreSQL;
// secrets are generated here, shown once, and stored only sealed (envelope encryption).
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';
import { createTtlCache } from '../cache.ts';
import type { Clock } from '../clock.ts';
import { DomainError, invalid, notFound } from '../errors.ts';
import type { Sealer } from '../keys/envelope.ts';
import { type RateLimit, rateLimitMetadata, rateLimitProblem } from '../limits/rateLimit.ts';
import type { Catalogue } from './catalogue.ts';
import { type ClientInput, clientMetadata, SECRET_METHODS } from './clientRules.ts';
import { type ClientRow, createClientStore } from './clientStore.ts';
import { type ClientView, clientViewOf } from './clientView.ts';
import {
  LOGOUT_METADATA_MEMBERS,
  type LogoutUris,
  logoutMetadata,
  logoutUrisOf,
} from './logoutMetadata.ts';
import { profileOf, type ServerProfileSetting } from './profiles.ts';
import { type ResponseSigningInput, withResponseSigning } from './responseSigning.ts';

export {
  AUTH_METHODS,
  type AuthMethod,
  type ClientInput,
  validateRedirectUri,
} from './clientRules.ts';
export { type ClientView, clientViewOf, clientWarnings } from './clientView.ts';
export { GRANT_TYPE_ALIASES, GRANT_TYPES, type GrantType } from './grantTypes.ts';
export { PKCE_SETTINGS, type PkceSetting } from './pkceSetting.ts';
export {
  SENDER_CONSTRAINTS,
  type SenderConstraint,
  TLS_SUBJECT_KINDS,
  type TlsSubjectKind,
} from './tokenBinding.ts';

/**
 * A new client id: 128 random bits, base64url. Never starting with "-", so that an id can follow
 * any command-line flag (`portcullis client show ID`) without being read as an option.
 */
export function newClientId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export interface ClientRegistryOptions {
  knex: Knex;
  sealer: Sealer;
  clock: Clock;
  catalogue: Catalogue;
  cacheSeconds: number;
  /** Signing algorithm for ID tokens (the key ring's algorithm). */
  idTokenAlg: string;
  /** Every algorithm of the key ring, the default first. */
  ringAlgs?: readonly string[] | undefined;
  /** FAPI_PROFILE: '2.0' makes every client fapi2. */
  serverProfile?: ServerProfileSetting;
  /** Full validation by the protocol library; throws DomainError('invalid_input') on bad metadata. */
  validateMetadata: (metadata: Record<string, unknown>) => Promise<void>;
  /** Revokes every grant, token and code issued to a client; called once it is deleted. */
  revokeIssued: (clientId: string) => Promise<unknown>;
}

export function createClientRegistry(options: ClientRegistryOptions) {
  const { knex, sealer, clock, catalogue } = options;
  const store = createClientStore(knex);
  const cache = createTtlCache<Record<string, unknown> | undefined>(
    clock,
    options.cacheSeconds * 1000,
  );
  const secretContext = (clientId: string) => `clients:${clientId}:secret`;
  // The metadata last read per client, to hand out the same object while nothing changed.
  const lastRead = new Map<string, Record<string, unknown>>();

  async function readProviderMetadata(clientId: string) {
    const row = await store.find(clientId);
    if (!row) return undefined;
    if (!row.secret_sealed) return row.metadata;
    return {
      ...row.metadata,
      client_secret: sealer.openString(row.secret_sealed, secretContext(clientId)),
    };
  }

  /** Turns administrator input into oidc-provider client metadata, validating each field. */
  async function toMetadata(
    clientId: string,
    input: ClientInput,
  ): Promise<Record<string, unknown>> {
    return {
      client_id: clientId,
      ...(await clientMetadata(input, {
        catalogue,
        idTokenAlg: options.idTokenAlg,
        ringAlgs: options.ringAlgs,
        serverProfile: options.serverProfile,
      })),
    };
  }

  const toView = (row: ClientRow): ClientView => clientViewOf(row, options);

  /** Stores changed metadata once the library's own check (with the secret, if any) accepts it. */
  async function saveChecked(row: ClientRow, metadata: Record<string, unknown>) {
    const clientId = row.client_id;
    const current = row.secret_sealed
      ? sealer.openString(row.secret_sealed, secretContext(clientId))
      : undefined;
    await options.validateMetadata(current ? { ...metadata, client_secret: current } : metadata);
    const updatedAt = new Date(clock.now());
    await store.update(clientId, { metadata, updated_at: updatedAt });
    cache.delete(clientId);
    return toView({ ...row, metadata, updated_at: updatedAt });
  }

  const newSecret = () => randomBytes(32).toString('base64url');

  return {
    async create(
      input: ClientInput,
      createdBy = 'cli',
      fixedClientId?: string,
    ): Promise<{ client: ClientView; secret: string | undefined }> {
      const clientId = fixedClientId ?? newClientId();
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
      // A fapi2 client stays one unless the administrator says otherwise (profile: 'default').
      const kept = input.profile === undefined && row.metadata.profile === 'fapi2';
      const metadata = await toMetadata(clientId, kept ? { ...input, profile: 'fapi2' } : input);
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

    /**
     * Moves every client's access from one API identifier to another (the admin API's
     * identifier follows the issuer). Returns how many clients changed.
     */
    async renameApiAccess(from: string, to: string): Promise<number> {
      let changed = 0;
      for (const row of await store.list()) {
        const access = (row.metadata.api_access ?? {}) as Record<string, string[]>;
        if (!access[from]) continue;
        const { [from]: scopes, ...rest } = access;
        const metadata = { ...row.metadata, api_access: { ...rest, [to]: scopes } };
        await store.update(row.client_id, { metadata, updated_at: new Date(clock.now()) });
        cache.delete(row.client_id);
        changed++;
      }
      return changed;
    },

    /** Sets a client's own request limit, or (null) puts it back on the default. */
    async setRateLimit(clientId: string, limit: RateLimit | null): Promise<ClientView> {
      const problem = limit ? rateLimitProblem(limit) : undefined;
      if (problem) throw invalid(`rate limit: ${problem}`, 'rateLimit');
      const row = await store.find(clientId);
      if (!row) throw notFound(`no client ${clientId}`);
      const { rate_limit: _old, ...rest } = row.metadata;
      const metadata = limit ? { ...rest, rate_limit: rateLimitMetadata(limit) } : rest;
      const updatedAt = new Date(clock.now());
      await store.update(clientId, { metadata, updated_at: updatedAt });
      cache.delete(clientId);
      return toView({ ...row, metadata, updated_at: updatedAt });
    },

    /** Changes the algorithms of the responses signed for a client (those given; the others stay). */
    async setResponseSigning(clientId: string, signing: ResponseSigningInput): Promise<ClientView> {
      const row = await store.find(clientId);
      if (!row) throw notFound(`no client ${clientId}`);
      const metadata = withResponseSigning(
        row.metadata,
        signing,
        options.ringAlgs ?? [options.idTokenAlg],
        profileOf(row.metadata, options.serverProfile),
      );
      return saveChecked(row, metadata);
    },

    /**
     * Sets or removes (null) a client's logout URIs (undefined: unchanged), by the same rules as
     * a client's creation.
     */
    async setLogoutUris(clientId: string, uris: Partial<LogoutUris>): Promise<ClientView> {
      const row = await store.find(clientId);
      if (!row) throw notFound(`no client ${clientId}`);
      const login = ((row.metadata.grant_types as string[]) ?? []).includes('authorization_code');
      const wanted = { ...logoutUrisOf(row.metadata), ...uris };
      const rest = Object.fromEntries(
        Object.entries(row.metadata).filter(([k]) => !LOGOUT_METADATA_MEMBERS.includes(k)),
      );
      const metadata = { ...rest, ...logoutMetadata(wanted, login) };
      return saveChecked(row, metadata);
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
      await options.revokeIssued(clientId);
    },

    async get(clientId: string): Promise<ClientView | undefined> {
      const row = await store.find(clientId);
      return row ? toView(row) : undefined;
    },

    async list(): Promise<ClientView[]> {
      return (await store.list()).map(toView);
    },

    /**
     * Metadata as oidc-provider reads it, secret opened (read on every request). Cached until a
     * change notice (forget) or for CACHE_SECONDS; an unchanged reload returns the same object,
     * so what is built from it (oidc-provider's Client, src/oidc/builtClients.ts) is kept too.
     */
    providerMetadata(clientId: string): Promise<Record<string, unknown> | undefined> {
      return cache.get(clientId, async () => {
        const fresh = await readProviderMetadata(clientId);
        const last = lastRead.get(clientId);
        if (fresh && last && isDeepStrictEqual(fresh, last)) return last;
        if (lastRead.size >= 10_000) lastRead.clear();
        if (fresh) lastRead.set(clientId, fresh);
        else lastRead.delete(clientId);
        return fresh;
      });
    },

    /** A change committed elsewhere (a notice): the next request reads the client again. */
    forget(clientId: string): void {
      cache.delete(clientId);
    },

    /** Notices may have been missed: every client is read again. */
    forgetAll(): void {
      cache.clear();
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
      await options.revokeIssued(clientId);
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
