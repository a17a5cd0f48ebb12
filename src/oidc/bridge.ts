// The port through which the web pages of a login (src/interactions/) drive the protocol: read
// the pending interaction, finish or abort it, record consent, read the browser's session.
// Keeps oidc-provider inside src/oidc/: pages see plain objects only.
import type Koa from 'koa';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { DomainError } from '../errors.ts';
import { setUiLocales } from '../http/views.ts';
import type { Level } from '../mfa/assurance.ts';
import type { AssurancePolicy } from './assurancePolicy.ts';
import type { OidcRuntime } from './provider.ts';
import { apiAccessOf } from './resources.ts';
import type { AuthorizationDetail } from './richAuthorization.ts';

export interface PendingInteraction {
  uid: string;
  prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
  params: Record<string, unknown>;
  client: ClientSummary;
  session: BrowserSession | undefined;
  grantId: string | undefined;
  lastSubmission: Record<string, unknown> | undefined;
  /** The assurance this login must reach, and the acr values the client insisted on. */
  assurance: { required: Level; unmet: boolean; essentialAcrs: string[] };
  /** The authorization_details the request carries (validated at PAR or authorization), if any. */
  authorizationDetails: AuthorizationDetail[] | undefined;
}

export interface ClientSummary {
  clientId: string;
  name: string;
  firstParty: boolean;
  /** API identifier -> scopes the client may ask for. */
  apiAccess: Record<string, string[]>;
  /** Lowest assurance level the client accepts (1 when unset). */
  minAssuranceLevel: number;
}

export interface BrowserSession {
  uid: string;
  accountId: string;
  acr: string | undefined;
  amr: string[] | undefined;
  /** Seconds since the epoch of the last full sign-in. */
  loginTs: number | undefined;
}

export interface LoginResult {
  accountId: string;
  acr: string;
  amr: string[];
  /** Seconds since the epoch; the time the person proved who they are. */
  ts?: number;
}

export interface ConsentDecision {
  /** OpenID Connect scopes granted, and those refused (so they are not asked again). */
  grantOidcScopes: string[];
  rejectOidcScopes: string[];
  grantOidcClaims: string[];
  /** API identifier -> scopes granted / refused. */
  grantResourceScopes: Record<string, string[]>;
  rejectResourceScopes: Record<string, string[]>;
}

/** The browser has no such sign-in request (expired, or from another browser); says what to do. */
export class InteractionNotFound extends DomainError {
  override name = 'InteractionNotFound';
  constructor(message: string, pageKey: string) {
    super('invalid_input', message);
    this.page = { key: pageKey };
  }
}

function summarize(client: Record<string, unknown> | undefined, clientId: string): ClientSummary {
  return {
    clientId,
    name: typeof client?.clientName === 'string' ? client.clientName : clientId,
    firstParty: client?.first_party === true,
    apiAccess: apiAccessOf(client as never),
    minAssuranceLevel:
      typeof client?.min_assurance_level === 'number' ? client.min_assurance_level : 1,
  };
}

/** The request's authorization_details: a JSON string in the interaction's parameters. */
function detailsOf(params: Record<string, unknown>): AuthorizationDetail[] | undefined {
  const raw = params.authorization_details;
  if (raw === undefined || raw === null) return undefined;
  const details = typeof raw === 'string' ? JSON.parse(raw) : raw;
  return Array.isArray(details) && details.length ? (details as AuthorizationDetail[]) : undefined;
}

type Interaction = Awaited<ReturnType<OidcRuntime['provider']['interactionDetails']>>;

/** Seconds since the epoch, as oidc-provider counts an interaction's expiry. */
const epochTime = () => Math.floor(Date.now() / 1000);

export function createInteractionBridge(runtime: OidcRuntime, assurancePolicy: AssurancePolicy) {
  const provider = () => runtime.provider;
  /**
   * The interaction each request read with `details` (checked against its cookie and session):
   * finishing it saves that one, as oidc-provider's interactionResult would after reading it
   * again (the interaction and its session: two statements fewer per page that finishes).
   */
  const loaded = new WeakMap<Koa.Context, Interaction>();

  async function finish(
    ctx: Koa.Context,
    result: Record<string, unknown>,
    merge: boolean,
  ): Promise<void> {
    const interaction = loaded.get(ctx);
    let returnTo: string;
    if (interaction) {
      interaction.result =
        merge && !('error' in result) ? { ...interaction.lastSubmission, ...result } : result;
      await interaction.save(interaction.exp - epochTime());
      returnTo = interaction.returnTo;
    } else {
      returnTo = await provider().interactionResult(ctx.req, ctx.res, result, {
        mergeWithLastSubmission: merge,
      });
    }
    ctx.status = 303;
    ctx.redirect(returnTo);
  }

  /**
   * Records what the person approved and returns the grant's id, without continuing (the
   * consent page records its consent in between). A request with authorization_details gets a
   * grant of its own (holding what the session's grant held, plus exactly these details), so
   * the details of an earlier payment never ride along; otherwise the session's grant grows.
   */
  async function grantConsent(
    interaction: PendingInteraction,
    decision: ConsentDecision,
  ): Promise<string> {
    const p = provider();
    const accountId = interaction.session?.accountId;
    if (!accountId) throw new InteractionNotFound('Sign in first.', 'error.signInFirst');
    const clientId = interaction.client.clientId;
    const existing = interaction.grantId ? await p.Grant.find(interaction.grantId) : undefined;
    const details = interaction.authorizationDetails;
    let grant = existing ?? new p.Grant({ accountId, clientId });
    if (details && existing) {
      grant = new p.Grant({ accountId, clientId });
      const held = existing as unknown as Record<string, unknown>;
      const copy = (v: unknown) => (v === undefined ? undefined : structuredClone(v));
      Object.assign(grant, {
        openid: copy(held.openid),
        resources: copy(held.resources),
        rejected: copy(held.rejected),
      });
    }
    if (decision.grantOidcScopes.length) grant.addOIDCScope(decision.grantOidcScopes.join(' '));
    if (decision.rejectOidcScopes.length)
      grant.rejectOIDCScope(decision.rejectOidcScopes.join(' '));
    if (decision.grantOidcClaims.length) grant.addOIDCClaims(decision.grantOidcClaims);
    for (const [resource, scopes] of Object.entries(decision.grantResourceScopes)) {
      if (scopes.length) grant.addResourceScope(resource, scopes.join(' '));
    }
    for (const [resource, scopes] of Object.entries(decision.rejectResourceScopes)) {
      if (scopes.length) grant.rejectResourceScope(resource, scopes.join(' '));
    }
    for (const detail of details ?? []) grant.addRar(detail as never);
    return grant.save();
  }

  /** Continues the authorization with the grant consented to (303 back to the provider). */
  /**
   * Continues after consent. `login`, when the consent itself authenticated the person (a
   * payment's WebAuthn assertion), raises the session to what that proved.
   */
  function resumeAfterConsent(
    ctx: Koa.Context,
    grantId: string,
    login?: LoginResult | undefined,
  ): Promise<void> {
    return finish(
      ctx,
      { consent: { grantId }, ...(login ? { login: { ...login, remember: true } } : {}) },
      true,
    );
  }

  return {
    /** The interaction of this browser (cookie-bound); throws InteractionNotFound otherwise. */
    async details(ctx: Koa.Context): Promise<PendingInteraction> {
      let i: Interaction;
      try {
        i = await provider().interactionDetails(ctx.req, ctx.res);
      } catch (err) {
        // The database out of reach is not an expired sign-in: that answers 503 (try again).
        if (isDatabaseUnavailable(err)) throw err;
        throw new InteractionNotFound(
          'This sign-in request has expired or was opened in another browser. Go back to the application and start again.',
          'error.interactionExpired',
        );
      }
      if (ctx.params?.uid !== undefined && ctx.params.uid !== i.uid) {
        throw new InteractionNotFound(
          'This sign-in request does not belong to this browser. Go back to the application and start again.',
          'error.interactionOtherBrowser',
        );
      }
      loaded.set(ctx, i);
      // The pages of this login speak the language the client asked for (src/http/views.ts).
      setUiLocales(ctx, i.params.ui_locales);
      const clientId = String(i.params.client_id);
      const client = await provider().Client.find(clientId);
      const s = i.session as (typeof i.session & { loginTs?: number }) | undefined;
      const need = await assurancePolicy.required(
        i.params as Record<string, unknown>,
        client as never,
      );
      return {
        uid: i.uid,
        prompt: i.prompt as PendingInteraction['prompt'],
        params: i.params as Record<string, unknown>,
        client: summarize(client as unknown as Record<string, unknown>, clientId),
        session: s?.accountId
          ? { uid: s.uid, accountId: s.accountId, acr: s.acr, amr: s.amr, loginTs: s.loginTs }
          : undefined,
        grantId: i.grantId,
        lastSubmission: i.lastSubmission as Record<string, unknown> | undefined,
        assurance: { required: need.level, unmet: need.unmet, essentialAcrs: need.essentialAcrs },
        authorizationDetails: detailsOf(i.params as Record<string, unknown>),
      };
    },

    /** The person is who they said: continue the authorization (303 back to the provider). */
    finishLogin(ctx: Koa.Context, login: LoginResult): Promise<void> {
      return finish(ctx, { login: { ...login, remember: true } }, true);
    },

    grantConsent,
    resumeAfterConsent,

    /** Records what the person approved in the interaction's grant and continues. */
    async finishConsent(
      ctx: Koa.Context,
      interaction: PendingInteraction,
      decision: ConsentDecision,
    ): Promise<void> {
      await resumeAfterConsent(ctx, await grantConsent(interaction, decision));
    },

    /** Ends the interaction with an OAuth error returned to the client (e.g. access_denied). */
    abort(ctx: Koa.Context, error: string, description: string): Promise<void> {
      return finish(ctx, { error, error_description: description }, false);
    },

    /** The signed-in session of this browser, if any (for pages outside a login). */
    async session(ctx: Koa.Context): Promise<BrowserSession | undefined> {
      const session = await provider().Session.get(ctx as never);
      if (!session.accountId) return undefined;
      const s = session as unknown as {
        uid: string;
        accountId: string;
        acr?: string;
        amr?: string[];
        loginTs?: number;
      };
      return { uid: s.uid, accountId: s.accountId, acr: s.acr, amr: s.amr, loginTs: s.loginTs };
    },

    async client(clientId: string): Promise<ClientSummary | undefined> {
      const client = await provider().Client.find(clientId);
      return client ? summarize(client as unknown as Record<string, unknown>, clientId) : undefined;
    },
  };
}

export type InteractionBridge = ReturnType<typeof createInteractionBridge>;
