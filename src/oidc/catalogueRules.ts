// The rules of the API catalogue's definitions: the shape of an API, and the checks of its
// identifier, scopes, token lifetime and resource servers (catalogue.ts applies them).
import { invalid } from '../errors.ts';
import { missingClientOf } from './catalogueStore.ts';

export interface ApiScope {
  name: string;
  description: string;
  /** Assurance level (1 password, 2 second factor, 3 phishing-resistant) this scope needs. */
  requiredLevel?: 1 | 2 | 3 | undefined;
}

export interface Api {
  id: string;
  identifier: string;
  name: string;
  tokenFormat: 'jwt' | 'opaque';
  accessTokenTtl: number;
  scopes: ApiScope[];
  /** Client ids allowed to introspect this API's tokens, sorted. */
  resourceServers: string[];
  /** RFC 9396 authorization detail types this API accepts, sorted (a type belongs to one API). */
  detailTypes: string[];
  /** The scope a resource server's client-credentials token carries to read and consume consents. */
  consentScope: string | undefined;
  /** Its scopes are advertised in discovery (scopes_supported). */
  public: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface ApiInput {
  identifier: string;
  name?: string | undefined;
  tokenFormat?: 'jwt' | 'opaque' | undefined;
  accessTokenTtl?: number | undefined;
  scopes: ApiScope[];
  /** Client ids allowed to introspect this API's tokens (default none). */
  resourceServers?: string[] | undefined;
  /** Authorization detail types the API accepts (default none). */
  detailTypes?: string[] | undefined;
  /** Needed with detail types; null on update removes it. */
  consentScope?: string | null | undefined;
  /** Advertise its scopes in discovery (default false). */
  public?: boolean | undefined;
}

/** Scope names oidc-provider or OpenID Connect already give a meaning to. */
export const RESERVED_SCOPES = new Set([
  'openid',
  'offline_access',
  'profile',
  'email',
  'address',
  'phone',
]);
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
export const MIN_TTL = 60;
export const MAX_TTL = 24 * 3600;
export const MAX_RESOURCE_SERVERS = 50;
const CLIENT_ID = /^[\x21-\x7E]{1,128}$/;

export function validateApiIdentifier(identifier: string): string {
  const url = URL.parse(identifier);
  if (!url || !/^https?:$/.test(url.protocol) || url.hash || identifier.includes('#')) {
    throw invalid('identifier must be an absolute http(s) URI without a fragment', 'identifier');
  }
  return identifier;
}

export function validateScopes(scopes: ApiScope[]): ApiScope[] {
  if (scopes.length === 0) throw invalid('an API needs at least one scope', 'scopes');
  const seen = new Set<string>();
  for (const s of scopes) {
    if (!SCOPE_TOKEN.test(s.name)) {
      throw invalid(
        `scope "${s.name}" is not a valid scope token (printable ASCII, no spaces, quotes or backslashes)`,
        'scopes',
      );
    }
    if (RESERVED_SCOPES.has(s.name))
      throw invalid(`scope "${s.name}" is reserved by OpenID Connect`, 'scopes');
    if (seen.has(s.name)) throw invalid(`scope "${s.name}" is listed twice`, 'scopes');
    if (!s.description.trim())
      throw invalid(`scope "${s.name}" needs a description people can read`, 'scopes');
    seen.add(s.name);
  }
  return scopes;
}

/** Client ids named as an API's resource servers: well formed, each once; returned sorted. */
export function validateResourceServers(clientIds: string[]): string[] {
  if (!Array.isArray(clientIds))
    throw invalid('resource servers are a list of client ids', 'resourceServers');
  if (clientIds.length > MAX_RESOURCE_SERVERS)
    throw invalid(`at most ${MAX_RESOURCE_SERVERS} resource servers per API`, 'resourceServers');
  const seen = new Set<string>();
  for (const [i, id] of clientIds.entries()) {
    if (typeof id !== 'string' || !CLIENT_ID.test(id))
      throw invalid('a resource server is named by its client id', `resourceServers/${i}`);
    if (seen.has(id)) throw invalid(`client ${id} is listed twice`, `resourceServers/${i}`);
    seen.add(id);
  }
  return [...seen].sort();
}

/** What the catalogue needs to know of a client named as a resource server. */
export type ResourceServerLookup = (
  clientId: string,
) => Promise<{ authMethod: string } | undefined>;

/**
 * Checks that every client named as a resource server is registered and can authenticate: a
 * public client cannot prove who calls in its name, so it can never introspect others' tokens.
 * Callers that have the client registry check with it before they change the catalogue (the
 * database refuses unknown clients anyway; this names the one at fault and refuses public ones).
 */
export async function checkResourceServerClients(
  clientIds: string[],
  lookup: ResourceServerLookup,
): Promise<void> {
  for (const [i, id] of clientIds.entries()) {
    const client = await lookup(id);
    if (!client) throw invalid(`no client ${id}`, `resourceServers/${i}`);
    if (client.authMethod === 'none') {
      throw invalid(
        `client ${id} is public (it authenticates with no secret or key), so it cannot be a resource server`,
        `resourceServers/${i}`,
      );
    }
  }
}

/** Runs a catalogue write; a resource server that is not a registered client becomes a clear error. */
export async function refusingUnknownClients<T>(
  clientIds: string[],
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const missing = missingClientOf(err);
    if (missing === undefined) throw err;
    const at = clientIds.indexOf(missing);
    throw invalid(
      missing ? `no client ${missing}` : 'a resource server is not a registered client',
      at >= 0 ? `resourceServers/${at}` : 'resourceServers',
    );
  }
}

export function validateTtl(ttl: number): number {
  if (!Number.isInteger(ttl) || ttl < MIN_TTL || ttl > MAX_TTL) {
    throw invalid(
      `access token lifetime must be a whole number of seconds from ${MIN_TTL} to ${MAX_TTL}`,
      'accessTokenTtl',
    );
  }
  return ttl;
}
