// Resource indicators (RFC 8707) over the API catalogue: which API a token is for, which scopes
// it may carry, its format and lifetime. A token is only ever issued for one API and carries
// only scopes that API defines and the client is allowed to ask for.
import type { KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { SigningAlg } from '../config.ts';
import type { Api, Catalogue } from './catalogue.ts';

/** Scopes of OpenID Connect itself: never API scopes. */
export const OIDC_SCOPES = new Set([
  'openid',
  'offline_access',
  'profile',
  'email',
  'address',
  'phone',
]);

type ClientLike = { clientId: string; api_access?: unknown };

/** API identifier -> scopes this client may ask for, from its metadata. */
export function apiAccessOf(client: ClientLike | undefined): Record<string, string[]> {
  const access = client?.api_access;
  return access && typeof access === 'object' ? (access as Record<string, string[]>) : {};
}

const asList = (value: unknown): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];

/** Requested scopes that name API permissions (not OpenID Connect scopes). */
function requestedApiScopes(ctx: KoaContextWithOIDC): string[] {
  const scope = ctx.oidc.params?.scope;
  return typeof scope === 'string' ? scope.split(' ').filter((s) => s && !OIDC_SCOPES.has(s)) : [];
}

export interface ResourceOptions {
  catalogue: Catalogue;
  alg: SigningAlg;
  /** Further narrows the scopes a token may carry (accounts: roles; MFA: assurance level). */
  narrowScopes?: (ctx: KoaContextWithOIDC, api: Api, scopes: string[]) => Promise<string[]>;
  /** The APIs declaring the types of the request's authorization_details (or the redeemed code's). */
  detailResources?: (ctx: KoaContextWithOIDC) => Promise<string[]>;
}

export function createResourceIndicators(options: ResourceOptions) {
  const { catalogue } = options;

  /**
   * When the client names no resource: the one API whose scopes it asks for, and the APIs that
   * declare the types of its authorization_details. With several candidates at the token
   * endpoint the client must choose, so nothing is guessed.
   */
  async function defaultResource(ctx: KoaContextWithOIDC, client: ClientLike, oneOf?: string[]) {
    const access = apiAccessOf(client);
    const requested = requestedApiScopes(ctx);
    const details = ctx.oidc.params?.authorization_details;
    const viaDetails = (await options.detailResources?.(ctx)) ?? [];
    const matching = (ids: string[]) =>
      requested.length ? ids.filter((id) => requested.some((s) => access[id]?.includes(s))) : ids;
    if (oneOf) {
      // A code with details is redeemed for the API of its details unless the client says otherwise.
      const ofDetails = oneOf.filter((id) => viaDetails.includes(id));
      const chosen = ofDetails.length ? ofDetails : matching(oneOf);
      return chosen.length === 1 ? chosen[0] : oneOf;
    }
    const candidates = matching(Object.keys(access));
    if (requested.length > 0 && candidates.length === 0) {
      throw new errors.InvalidScope('requested scope is not allowed', requested.join(' '));
    }
    if (ctx.oidc.route === 'token') {
      if (details !== undefined && viaDetails.length === 1) return viaDetails[0];
      // Client credentials: a token is always for exactly one API.
      if (candidates.length === 1) return candidates[0];
      throw new errors.InvalidTarget(
        candidates.length > 1
          ? 'this client may access several APIs: name one with the resource parameter'
          : 'this client may not access any API',
      );
    }
    // Authorization and PAR: several APIs may be asked for at once; none when only OIDC scopes
    // are (and no authorization_details).
    const chosen = [...new Set([...(requested.length ? candidates : []), ...viaDetails])];
    if (chosen.length === 0) return undefined;
    return chosen.length === 1 ? chosen[0] : chosen;
  }

  async function getResourceServerInfo(
    ctx: KoaContextWithOIDC,
    identifier: string,
    client: ClientLike,
  ): Promise<ResourceServer> {
    const api = await catalogue.findByIdentifier(identifier);
    if (!api) throw new errors.InvalidTarget(`unknown resource ${identifier}`);
    const access = apiAccessOf(client);
    const allowed = access[identifier];
    if (!allowed || allowed.length === 0) {
      throw new errors.InvalidTarget(`client is not allowed to request tokens for ${identifier}`);
    }
    const defined = new Set(api.scopes.map((s) => s.name));
    let scopes = allowed.filter((s) => defined.has(s));

    // Every API scope asked for must be allowed on one of the resources asked for.
    const resources = new Set(asList(ctx.oidc.params?.resource));
    resources.add(identifier);
    const allowedAnywhere = new Set([...resources].flatMap((r) => access[r] ?? []));
    for (const s of requestedApiScopes(ctx)) {
      if (!allowedAnywhere.has(s))
        throw new errors.InvalidScope('requested scope is not allowed', s);
    }

    if (options.narrowScopes) scopes = await options.narrowScopes(ctx, api, scopes);

    // RFC 6749 section 3.3: a client credentials request without scope gets a pre-defined
    // default, here every scope the client is allowed on this API (a token without scopes
    // would be useless). The library reads the requested scopes from params afterwards.
    if (
      ctx.oidc.route === 'token' &&
      ctx.oidc.params?.grant_type === 'client_credentials' &&
      !ctx.oidc.params.scope
    ) {
      ctx.oidc.params.scope = scopes.join(' ');
    }
    return {
      scope: scopes.join(' '),
      audience: api.identifier,
      accessTokenTTL: api.accessTokenTtl,
      accessTokenFormat: api.tokenFormat,
      ...(api.tokenFormat === 'jwt' ? { jwt: { sign: { alg: options.alg } } } : {}),
    } as ResourceServer;
  }

  return {
    enabled: true,
    defaultResource,
    getResourceServerInfo,
    // A token request without `resource` and with openid gets a userinfo token; naming the
    // resource (or not asking for openid) gets the API token. RFC 8707 behaviour. Except for a
    // code or refresh token carrying authorization details: its token is for their API.
    useGrantedResource: async (_ctx: unknown, model: { rar?: unknown[] }) =>
      Boolean(model.rar?.length),
  };
}
