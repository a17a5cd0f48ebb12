// The whole oidc-provider configuration in one place, each choice with its reason. Everything
// the protocol library does for Portcullis is decided here; the rest of src/oidc/ supplies the parts.
import { hkdfSync } from 'node:crypto';
import type Koa from 'koa';
import {
  type Configuration,
  errors,
  type FindAccount,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import { type Clock, epochSeconds } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Views } from '../http/views.ts';
import type { KeyRing } from '../keys/signingKeys.ts';
import type { CibaConfiguration } from './ciba.ts';
import { newClientId } from './clients.ts';
import { type DeviceFlowOptions, deviceFlowFeature } from './deviceFlow.ts';
import { endpointAuthDiscovery } from './discoveryTruth.ts';
import { EXTRA_CLIENT_METADATA, validateExtraMetadataFor } from './extraClientMetadata.ts';
import { DEVICE_CODE_GRANT } from './grantTypes.ts';
import { introspectionPolicy } from './introspectionPolicy.ts';
import type { JwtIntrospection } from './jwtIntrospection.ts';
import { messageSigningClientDefaults, messageSigningFeatures } from './messageSigning.ts';
import { type MtlsOptions, mtlsConfiguration } from './mtls.ts';
import {
  clientAssertionProblem,
  PROFILES,
  type Profile,
  pkceRequired,
  profileOf,
  serverProfile,
} from './profiles.ts';
import { rememberedGrant } from './rememberedGrant.ts';
import { createResourceIndicators, type ResourceOptions } from './resources.ts';
import type { RichAuthorization } from './richAuthorization.ts';

export interface ConfigurationParts {
  config: Config;
  /** The injected clock: session lifetimes are measured with it. */
  clock: Clock;
  ring: KeyRing;
  adapter: (model: string) => unknown;
  views: Views;
  resources: ResourceOptions;
  findAccount: FindAccount;
  /** The logout confirmation and signed-out pages (src/interactions/logout.ts). */
  logoutPages: {
    confirm(ctx: Koa.Context, form: string, clientName: string | undefined): void;
    done(ctx: Koa.Context, clientName: string | undefined): void;
  };
  /** Dynamic registration (RFC 7591/7592) with initial access tokens, and its policies. */
  registration: {
    enabled: boolean;
    policies: Record<
      string,
      (ctx: KoaContextWithOIDC, properties: Record<string, unknown>) => Promise<void>
    >;
  };
  /** Mutual TLS (RFC 8705) when a source of client certificates is configured; otherwise off. */
  mtls?: MtlsOptions | undefined;
  /** Assurance levels: acr values, the login policy with step-up, token claims. */
  assurance: {
    acrValues: string[];
    policy: () => unknown;
    extraTokenClaims: (ctx: KoaContextWithOIDC | undefined) => Record<string, unknown> | undefined;
  };
  /** Rich authorization requests (RFC 9396) over the consents of src/consents/. */
  rar: RichAuthorization;
  /** Claims of a token issued by a token exchange (act, the login behind it; src/oidc/tokenExchange/). */
  exchangeClaims?: ((token: object) => Record<string, unknown> | undefined) | undefined;
  /** The device authorization grant (RFC 8628): its pages and pacing (src/oidc/deviceFlow.ts). */
  deviceFlow: DeviceFlowOptions;
  /** Introspection and revocation of JWT access tokens (src/oidc/jwtIntrospection.ts). */
  jwtAccessTokens?: JwtIntrospection | undefined;
  /** Backchannel authentication (CIBA, src/oidc/ciba.ts); off when absent. */
  ciba?: CibaConfiguration | undefined;
  /** The provider's outgoing requests (CIBA pings); tests pass one trusting their CA. */
  fetch?: typeof fetch | undefined;
  /** A grant given earlier in another browser session, reused instead of asking again. */
  reusableGrant?:
    | ((accountId: string, clientId: string) => Promise<string | undefined>)
    | undefined;
}

/** Every client authentication method Portcullis offers (a profile may narrow them). */
const CLIENT_AUTH_METHODS = [
  'private_key_jwt',
  'client_secret_basic',
  'client_secret_post',
  'none',
];

export function buildConfiguration(parts: ConfigurationParts): Configuration {
  const { config, ring, views } = parts;
  const secure = config.issuer.startsWith('https:');
  const alg = config.keys.alg;
  const setting = config.fapiProfile;
  const everyClient = serverProfile(setting);
  // What Portcullis signs with: a key of each algorithm of the ring (RS256 always, OpenID
  // Connect Core §15.1); a client picks one per response, its profile may narrow the choice.
  // Under FAPI_PROFILE=2.0 no client may pick RS256, so discovery does not offer it.
  const serverAlgs = config.keys.algs.filter(
    (a) => !everyClient?.responseSigningAlgs || everyClient.responseSigningAlgs.includes(a),
  ) as never[];
  /** The profile of the client a request is about (FAPI_PROFILE's when there is no client). */
  const profileFor = (client: unknown): Profile =>
    client
      ? profileOf(client as { profile?: unknown }, setting)
      : (everyClient ?? PROFILES.default);
  // What clients sign with: the server-wide profile's algorithms, else the default ones.
  const clientAlgs = [...(everyClient ?? PROFILES.default).clientSigningAlgs] as never[];
  const mtls = parts.mtls ? mtlsConfiguration(parts.mtls) : undefined;
  const authMethods = [...CLIENT_AUTH_METHODS, ...(mtls?.clientAuthMethods ?? [])].filter(
    (m) => !everyClient?.authMethods || everyClient.authMethods.includes(m),
  );

  const renderError: Configuration['renderError'] = async (ctx, out) => {
    ctx.type = 'html';
    // The protocol's own description is technical English: shown as a detail for the app's developer.
    ctx.body = views.page(ctx as never, 'error', {
      title: 'error.title',
      message: 'error.protocol',
      detail: out.error_description || undefined,
      code: out.error,
    });
  };

  const introspectionAllowed = introspectionPolicy(parts.resources.catalogue);

  const configuration: Configuration = {
    adapter: (parts.jwtAccessTokens
      ? (model: string) =>
          parts.jwtAccessTokens!.adapter(model, parts.adapter(model) as never, ring)
      : parts.adapter) as Configuration['adapter'],
    // Clients live in PostgreSQL and are read through the adapter, never from configuration.
    clients: [],
    jwks: { keys: ring.jwks as never },
    findAccount: parts.findAccount,
    clockTolerance: config.clockToleranceSeconds,

    cookies: {
      // Signed cookies; rotate by prepending a new COOKIE_KEYS entry.
      keys: config.cookieKeys,
      names: {
        // __Host- pins the session cookie to this origin (https only: browsers refuse it on http).
        session: secure ? '__Host-portcullis.session' : 'portcullis.session',
        interaction: 'portcullis.interaction',
        resume: 'portcullis.resume',
      },
      long: { httpOnly: true, sameSite: 'lax', signed: true, secure },
      short: { httpOnly: true, sameSite: 'lax', signed: true, secure },
    },

    // Authorization code only (no implicit or hybrid: RFC 9700), PKCE S256 for every client but
    // a confidential one its profile lets an administrator register with `pkce: 'optional'`.
    responseTypes: ['code'],
    pkce: {
      required: (_ctx, client) =>
        pkceRequired(profileFor(client), {
          pkce: (client as { pkce?: unknown }).pkce,
          token_endpoint_auth_method: client.clientAuthMethod,
        }),
    },
    // POST at the authorization and logout endpoints: src/http/postAsGet.ts (the library's own
    // enableHttpPostMethods needs a SameSite=None session cookie).
    // Under FAPI_PROFILE=2.0 only the profile's methods exist (discovery says so too).
    clientAuthMethods: authMethods as never[],
    // A client assertion must obey its client's profile (FAPI 2.0: aud the issuer as a string,
    // sub the client_id, iat/nbf at most 60 s ahead); expiry, signature and replay are the library's.
    assertJwtClientAuthClaimsAndHeader: async (ctx, claims, header, client) => {
      const problem = clientAssertionProblem(profileFor(client), claims, {
        issuer: ctx.oidc.issuer,
        clientId: client.clientId,
        alg: header.alg,
        now: epochSeconds(parts.clock),
      });
      if (problem) throw new errors.InvalidClientAuth(problem);
    },
    // Redirect URIs are matched exactly; the client always sends the one it used.
    allowOmittingSingleRegisteredRedirectUri: false,
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    // acr, amr and auth_time are always in the ID token (who signed in, and how strongly).
    acrValues: parts.assurance.acrValues,
    claims: {
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['name'],
      email: ['email', 'email_verified'],
    },
    conformIdTokenClaims: true,
    acceptQueryParamAccessTokens: false,

    enabledJWA: {
      // Asymmetric algorithms only (FAPI 2.0 allows PS256, ES256 and EdDSA).
      clientAuthSigningAlgValues: clientAlgs,
      idTokenSigningAlgValues: serverAlgs,
      userinfoSigningAlgValues: serverAlgs,
      introspectionSigningAlgValues: serverAlgs,
      authorizationSigningAlgValues: serverAlgs,
      requestObjectSigningAlgValues: clientAlgs,
      dPoPSigningAlgValues: clientAlgs,
    },
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt',
      id_token_signed_response_alg: alg,
      ...messageSigningClientDefaults(alg),
      ...parts.rar.clientDefaults,
    },
    // Portcullis' own client metadata, checked field by field with the client's profile enforced
    // on every client the library loads (src/oidc/extraClientMetadata.ts).
    extraClientMetadata: {
      properties: EXTRA_CLIENT_METADATA,
      validator: validateExtraMetadataFor(setting) as never,
    },

    features: {
      // Never the built-in development login: interactions are Portcullis' own pages.
      devInteractions: { enabled: false },
      // One server serves both kinds: each client's profile says whether FAPI 2.0 applies.
      fapi: { enabled: true, profile: (_ctx, client) => profileFor(client).fapi as never },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // Who may learn about a token: its client, and the resource servers of the API it is for
        // (src/oidc/introspectionPolicy.ts); a token carrying authorization details is active
        // only while its consent is authorised.
        allowedPolicy: async (ctx: KoaContextWithOIDC, client, token) =>
          (await introspectionAllowed(ctx, client, token)) &&
          parts.rar.activeForIntrospection(ctx, token),
      },
      revocation: {
        enabled: true,
        // A client revokes only its own tokens (RFC 7009 section 2.1).
        allowedPolicy: async (_ctx: KoaContextWithOIDC, client, token) =>
          token.clientId === client.clientId,
      },
      userinfo: { enabled: true },
      // A signed UserInfo response for clients registered with userinfo_signed_response_alg.
      jwtUserinfo: { enabled: true },
      // Back-channel logout: the logout request writes notices that a worker delivers
      // (src/oidc/logoutNotices.ts, src/logout/outbox.ts); it never waits for a relying party.
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) =>
          parts.logoutPages.confirm(ctx, form, ctx.oidc.client?.clientName),
        postLogoutSuccessSource: async (ctx) =>
          parts.logoutPages.done(ctx, ctx.oidc.client?.clientName),
      },
      // PAR for every client under FAPI_PROFILE=2.0 (discovery says so); else fapi2 clients
      // carry require_pushed_authorization_requests themselves (src/oidc/profiles.ts).
      pushedAuthorizationRequests: {
        enabled: true,
        requirePushedAuthorizationRequests: everyClient?.requirePar ?? false,
      },
      dPoP: {
        enabled: true,
        // Shared by every instance (derived from the cookie key), so nonces verify anywhere.
        nonceSecret: Buffer.from(
          hkdfSync('sha256', config.cookieKeys[0]!, 'portcullis', 'dpop-nonce', 32),
        ),
      },
      claimsParameter: { enabled: true },
      // Certificate-bound tokens and certificate client authentication (src/oidc/mtls.ts).
      mTLS: mtls?.mTLS ?? { enabled: false },
      // JAR at the PAR endpoint, JARM, signed introspection (src/oidc/messageSigning.ts).
      ...messageSigningFeatures(),
      // RFC 7591 only with an initial access token from an administrator: its policy applies
      // the admin API's client rules and the API access the administrator allowed. RFC 7592
      // lets a registered client read, change (under the same policy) and delete itself.
      registration: {
        enabled: parts.registration.enabled,
        initialAccessToken: true,
        policies: parts.registration.policies as never,
        issueRegistrationAccessToken: true,
        idFactory: newClientId,
      },
      registrationManagement: {
        enabled: parts.registration.enabled,
        rotateRegistrationAccessToken: true,
      },
      resourceIndicators: createResourceIndicators(parts.resources) as never,
      // authorization_details of the built-in types (src/oidc/richAuthorization.ts).
      richAuthorizationRequests: parts.rar.feature,
      // Device authorization grant (RFC 8628) for clients allowed it; never fapi2 ones, so not
      // at all (nor in discovery) when FAPI_PROFILE=2.0 makes every client fapi2.
      deviceFlow: everyClient?.refusedGrantTypes.includes(DEVICE_CODE_GRANT)
        ? { enabled: false }
        : deviceFlowFeature(parts.deviceFlow),
      // Backchannel authentication, poll and ping; the person approves on the account page.
      ciba: (parts.ciba?.feature ?? { enabled: false }) as never,
    },
    ...(parts.fetch ? { fetch: parts.fetch as never } : {}),

    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
      AuthorizationCode: (_ctx, _code, client) => profileFor(client).authorizationCodeSeconds,
      IdToken: 3600,
      Interaction: 1800,
      DeviceCode: parts.deviceFlow.codeSeconds,
      Grant: 14 * 24 * 3600,
      BackchannelAuthenticationRequest: (ctx) => parts.ciba?.ttl(ctx) ?? 300,
      // NIST AAL2: a session ends after SESSION_IDLE_SECONDS without use and at the latest
      // SESSION_ABSOLUTE_SECONDS after sign-in. Each save (each use) extends it by the idle time.
      Session: (_ctx, session) => {
        const { idleSeconds, absoluteSeconds } = config.sessions;
        const loginTs = (session as { loginTs?: number }).loginTs;
        if (!loginTs) return idleSeconds;
        const left = loginTs + absoluteSeconds - epochSeconds(parts.clock);
        return Math.max(1, Math.min(idleSeconds, left));
      },
      // Refresh tokens expire absolutely: a rotated token keeps its predecessor's end.
      RefreshToken: (ctx) =>
        ctx?.oidc?.entities.RotatedRefreshToken?.remainingTTL ?? 14 * 24 * 3600,
    },
    // Rotation with reuse detection: a refresh token is single use, replaying one revokes the
    // grant; except for profiles that forbid rotation (FAPI 2.0 §5.3.2.1).
    // A refresh whose consent is no longer authorised fails first, before anything rotates.
    rotateRefreshToken: async (ctx) => {
      await parts.rar.assertRefreshable(ctx);
      return profileFor(ctx.oidc.client).rotateRefreshTokens;
    },
    // Every client allowed the refresh_token grant gets one. Without offline_access (which
    // OpenID Connect only honours with prompt=consent) it ends with the browser session.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),

    // Consent once given is not asked again in a new browser session (src/oidc/rememberedGrant.ts).
    loadExistingGrant: rememberedGrant(parts.reusableGrant),
    interactions: {
      policy: parts.assurance.policy() as never,
      url: async (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // acr/amr/auth_time of the login, and consent_id of a token carrying authorization details.
    extraTokenClaims: async (ctx, token) => {
      const claims = {
        ...parts.assurance.extraTokenClaims(ctx),
        ...(await parts.rar.tokenClaims(ctx, token)),
        ...parts.exchangeClaims?.(token),
      };
      return Object.keys(claims).length ? claims : undefined;
    },
    // A person's JWT access token names its grant, so its introspection sees the grant revoked.
    ...(parts.jwtAccessTokens && { formats: parts.jwtAccessTokens.formats }),
    discovery: {
      ...mtls?.discovery,
      // The same client authentication at introspection and revocation as at the token endpoint.
      // (scopes_supported gains the public APIs' scopes in src/oidc/discoveryTruth.ts.)
      ...endpointAuthDiscovery(authMethods),
      // Front-Channel Logout 1.0 §3: the signed-out page loads each client's page with iss and sid.
      frontchannel_logout_supported: true,
      frontchannel_logout_session_supported: true,
    },
    renderError,
  };
  return configuration;
}

/** Longest lifetime of anything Portcullis signs, given the longest JWT access token lifetime. */
export const maxSignedLifetime = (maxJwtAccessTokenTtl: number) =>
  Math.max(3600, maxJwtAccessTokenTtl);
