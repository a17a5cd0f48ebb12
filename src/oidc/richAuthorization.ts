// Rich authorization requests (RFC 9396) in the protocol: which authorization_details a request may
// carry (the domain's schemas, an API declaring each type, the client's access to it), and what a
// code, an access token, introspection and a refresh carry: exactly the authorised consent's details.
import type Provider from 'oidc-provider';
import {
  type AuthorizationDetailsForIntrospection,
  errors,
  type KoaContextWithOIDC,
  type RichAuthorizationRequestsActiveConfiguration,
} from 'oidc-provider';
import type { Clock } from '../clock.ts';
import type { Consent } from '../consents/consents.ts';
import type { AuthorizationDetail } from '../consents/detailTypes.ts';
import { DomainError } from '../errors.ts';
import { apiAccessOf } from './resources.ts';

export type { AuthorizationDetail };

/** What the protocol reads of a consent (its status is the effective one: expiry applies). */
export type ConsentView = Pick<Consent, 'id' | 'details' | 'canonicalHash' | 'status'>;

export interface RichAuthorizationOptions {
  clock: Clock;
  /** The detail types Portcullis has a schema for. */
  detailTypes: readonly string[];
  /** The domain's validation of a whole authorization_details array (throws a DomainError naming the field). */
  validate: (details: unknown, now: Date) => AuthorizationDetail[];
  canonicalHash: (details: AuthorizationDetail[]) => string;
  /** The API (catalogue, cached) that declares a detail type. */
  apiForDetailType: (type: string) => Promise<{ identifier: string } | undefined>;
  consents: { findByGrant(grantId: string): Promise<ConsentView | undefined> };
}

type ClientLike = { clientId: string; api_access?: unknown };
type TokenLike = {
  grantId?: string;
  rar?: AuthorizationDetail[];
  aud?: unknown;
  resourceServer?: { audience?: string };
};

const PAYMENT = 'payment_initiation';
const NOT_AUTHORISED = 'the consent behind this grant is no longer authorised';
const NEEDS_PERSON =
  "authorization details need a person's consent: use the authorization code flow";

/** The request's authorization_details parameter as an array (a string at every endpoint but PAR storage). */
function requested(ctx: KoaContextWithOIDC): unknown {
  const raw = ctx.oidc.params?.authorization_details;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    throw new errors.InvalidAuthorizationDetails(
      'could not parse the authorization_details parameter JSON',
    );
  }
}

/** invalid_grant with this description (the library's own InvalidGrant always says "grant request is invalid"). */
const notAuthorised = () =>
  Object.assign(new errors.InvalidGrant(NOT_AUTHORISED), { error_description: NOT_AUTHORISED });

const describe = (err: DomainError) => (err.field ? `${err.field}: ${err.message}` : err.message);

/**
 * What a client sends: `authorization_details` (a JSON array) at PAR or the authorization
 * endpoint, with PKCE and redirect_uri as always; `resource` may be left out (the APIs declaring
 * the types are then the resources; if named, it must include them), `scope` may be just
 * `openid`. At the token endpoint the code is redeemed for the API of its details without
 * `resource` (details of two APIs: name one; a refresh naming the other gets that one's); the
 * response and the token carry the details of that API, and `consent_id`. A JWT access token's
 * introspection (src/oidc/jwtIntrospection.ts) goes through the same check.
 */
export function createRichAuthorization(options: RichAuthorizationOptions) {
  const { consents, apiForDetailType } = options;
  /** One validation of the whole array per request (the library asks once per detail). */
  const checked = new WeakMap<object, Promise<AuthorizationDetail[]>>();
  /** One consent lookup per request and grant (hooks, claims and introspection share it). */
  const looked = new WeakMap<object, Map<string, Promise<ConsentView | undefined>>>();

  function consentOf(ctx: object | undefined, grantId: string) {
    if (!ctx) return consents.findByGrant(grantId);
    const byGrant = looked.get(ctx) ?? new Map<string, Promise<ConsentView | undefined>>();
    looked.set(ctx, byGrant);
    const found = byGrant.get(grantId) ?? consents.findByGrant(grantId);
    byGrant.set(grantId, found);
    return found;
  }

  /** The authorised consent behind a grant, or undefined when there is none any more. */
  async function authorisedConsent(ctx: object | undefined, grantId: string | undefined) {
    if (!grantId) return undefined;
    const consent = await consentOf(ctx, grantId);
    return consent?.status === 'authorised' ? consent : undefined;
  }

  async function check(ctx: KoaContextWithOIDC, client: ClientLike) {
    if (ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials') {
      throw new errors.InvalidAuthorizationDetails(NEEDS_PERSON);
    }
    let details: AuthorizationDetail[];
    try {
      details = options.validate(requested(ctx), new Date(options.clock.now()));
    } catch (err) {
      if (err instanceof DomainError && err.code === 'invalid_input')
        throw new errors.InvalidAuthorizationDetails(describe(err));
      throw err;
    }
    if (details.filter((d) => d.type === PAYMENT).length > 1) {
      throw new errors.InvalidAuthorizationDetails(
        'authorization_details: at most one payment_initiation per request',
      );
    }
    const access = apiAccessOf(client);
    // Resources the client named at PAR or authorization: the details must be for one of them
    // (else the consent would be granted and no token carry it). At the token endpoint a token
    // is for one API and carries the details of that API only.
    const raw = ctx.oidc.route === 'token' ? undefined : ctx.oidc.params?.resource;
    const named = raw === undefined ? undefined : [raw].flat().map(String);
    for (const [i, detail] of details.entries()) {
      const api = await apiForDetailType(detail.type);
      if (!api)
        throw new errors.InvalidAuthorizationDetails(
          `authorization_details[${i}].type: no API accepts ${detail.type}`,
        );
      if (!access[api.identifier]?.length)
        throw new errors.InvalidAuthorizationDetails(
          `authorization_details[${i}].type: this client may not request ${detail.type}`,
        );
      if (named && !named.includes(api.identifier))
        throw new errors.InvalidAuthorizationDetails(
          `authorization_details[${i}].type: ${detail.type} is for ${api.identifier}, which the resource parameter does not name`,
        );
    }
    return details;
  }

  /** The identifiers of the APIs declaring the types of the details at hand. */
  async function apisOf(details: AuthorizationDetail[] | undefined): Promise<string[]> {
    const ids = new Set<string>();
    for (const type of new Set((details ?? []).map((d) => d.type))) {
      const api = await apiForDetailType(type);
      if (api) ids.add(api.identifier);
    }
    return [...ids];
  }

  /** The details of `details` whose type the API `identifier` declares. */
  async function ofApi(details: AuthorizationDetail[], identifier: string | undefined) {
    if (!identifier) return [];
    const out: AuthorizationDetail[] = [];
    for (const d of details)
      if ((await apiForDetailType(d.type))?.identifier === identifier) out.push(d);
    return out;
  }

  type Rar = RichAuthorizationRequestsActiveConfiguration & {
    authorizationDetailsForIntrospection: AuthorizationDetailsForIntrospection;
  };
  const feature: Rar = {
    enabled: true,
    types: Object.fromEntries(
      options.detailTypes.map((type) => [
        type,
        {
          validate: async (ctx: KoaContextWithOIDC, _detail: unknown, client: unknown) => {
            let done = checked.get(ctx);
            if (!done) {
              done = check(ctx, client as ClientLike);
              checked.set(ctx, done);
            }
            await done;
          },
        },
      ]),
    ) as Rar['types'],

    // A code carries details only when its request did, and only those of the consent the person
    // authorised for exactly this request (the grant was made for it: src/oidc/bridge.ts).
    authorizationDetailsForGrantSource: async (ctx, code) => {
      const wanted = requested(ctx) as AuthorizationDetail[] | undefined;
      if (wanted === undefined) return undefined;
      const consent = await authorisedConsent(ctx, (code as TokenLike).grantId);
      if (!consent || consent.canonicalHash !== options.canonicalHash(wanted)) {
        throw new errors.AccessDenied('the authorization details were not authorised');
      }
      return consent.details as never;
    },

    authorizationDetailsForAccessToken: async (ctx, token, source, grantType) => {
      if (grantType === 'client_credentials') {
        throw new errors.InvalidAuthorizationDetails(NEEDS_PERSON);
      }
      const consent = await authorisedConsent(ctx, (source as TokenLike | undefined)?.grantId);
      if (!consent) throw notAuthorised();
      const t = token as TokenLike;
      const granted = await ofApi(
        consent.details,
        t.resourceServer?.audience ?? (typeof t.aud === 'string' ? t.aud : undefined),
      );
      // A token request may ask for some of what was granted, never for more.
      const asked = requested(ctx) as AuthorizationDetail[] | undefined;
      if (asked === undefined) return granted as never;
      const byHash = new Map(granted.map((d) => [options.canonicalHash([d]), d]));
      return asked.map((d) => {
        const match = byHash.get(options.canonicalHash([d]));
        if (!match)
          throw new errors.InvalidAuthorizationDetails(
            'authorization_details: only details granted for this API may be requested',
          );
        return match;
      }) as never;
    },

    authorizationDetailsForIntrospection: async (_ctx, token) => (token as TokenLike).rar as never,
  };

  return {
    feature,
    /** Every client may ask for every type (the library's default is none); access is checked per API. */
    clientDefaults: { authorization_details_types: [...options.detailTypes] },

    /**
     * Discovery's authorization_details_types_supported lists the types some API of the catalogue
     * declares (the library would list every type Portcullis has a schema for).
     */
    narrowDiscovery(provider: Provider): void {
      provider.use(async (ctx, next) => {
        await next();
        const body = ctx.body as Record<string, unknown> | undefined;
        if (ctx.oidc?.route !== 'discovery' || !body?.authorization_details_types_supported) return;
        const declared: string[] = [];
        for (const type of options.detailTypes)
          if (await apiForDetailType(type)) declared.push(type);
        body.authorization_details_types_supported = declared;
      });
    },

    /** API identifiers the request's details (or the redeemed code's / refresh token's) belong to. */
    async detailResources(ctx: KoaContextWithOIDC): Promise<string[]> {
      const asked = requested(ctx);
      if (Array.isArray(asked)) return apisOf(asked as AuthorizationDetail[]);
      const source = (ctx.oidc.entities?.AuthorizationCode ?? ctx.oidc.entities?.RefreshToken) as
        | TokenLike
        | undefined;
      return apisOf(source?.rar);
    },

    /**
     * Refuses the refresh of a token carrying details whose consent is no longer authorised:
     * called before the library rotates anything, so nothing is written.
     */
    async assertRefreshable(ctx: KoaContextWithOIDC): Promise<void> {
      const rt = ctx.oidc.entities?.RefreshToken as TokenLike | undefined;
      if (!rt?.rar?.length) return;
      if (!(await authorisedConsent(ctx, rt.grantId))) throw notAuthorised();
    },

    /** Introspection: a token with details is active only while its consent is authorised. */
    async activeForIntrospection(ctx: KoaContextWithOIDC, token: unknown): Promise<boolean> {
      const t = token as TokenLike;
      if (!t.rar?.length) return true;
      return (await authorisedConsent(ctx, t.grantId)) !== undefined;
    },

    /** `consent_id` of a token carrying details (JWT access tokens and introspection); no query otherwise. */
    async tokenClaims(
      ctx: KoaContextWithOIDC | undefined,
      token: unknown,
    ): Promise<Record<string, unknown> | undefined> {
      const t = token as TokenLike | undefined;
      if (!t?.rar?.length || !t.grantId) return undefined;
      const consent = await authorisedConsent(ctx, t.grantId);
      return consent ? { consent_id: consent.id } : undefined;
    },
  };
}

export type RichAuthorization = ReturnType<typeof createRichAuthorization>;
