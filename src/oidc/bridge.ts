// The port through which the web pages of a login (src/interactions/) drive the protocol: read
// the pending interaction, finish or abort it, record consent, read the browser's session.
// Keeps oidc-provider inside src/oidc/: pages see plain objects only.
import type Koa from 'koa';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { DomainError } from '../errors.ts';
import type { Level } from '../mfa/assurance.ts';
import type { AssurancePolicy } from './assurancePolicy.ts';
import type { OidcRuntime } from './provider.ts';
import { apiAccessOf } from './resources.ts';

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
  constructor(message: string) {
    super('invalid_input', message);
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

export function createInteractionBridge(runtime: OidcRuntime, assurancePolicy: AssurancePolicy) {
  const provider = () => runtime.provider;

  async function finish(
    ctx: Koa.Context,
    result: Record<string, unknown>,
    merge: boolean,
  ): Promise<void> {
    const returnTo = await provider().interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: merge,
    });
    ctx.status = 303;
    ctx.redirect(returnTo);
  }

  return {
    /** The interaction of this browser (cookie-bound); throws InteractionNotFound otherwise. */
    async details(ctx: Koa.Context): Promise<PendingInteraction> {
      let i: Awaited<ReturnType<OidcRuntime['provider']['interactionDetails']>>;
      try {
        i = await provider().interactionDetails(ctx.req, ctx.res);
      } catch (err) {
        // The database out of reach is not an expired sign-in: that answers 503 (try again).
        if (isDatabaseUnavailable(err)) throw err;
        throw new InteractionNotFound(
          'This sign-in request has expired or was opened in another browser. Go back to the application and start again.',
        );
      }
      if (ctx.params?.uid !== undefined && ctx.params.uid !== i.uid) {
        throw new InteractionNotFound(
          'This sign-in request does not belong to this browser. Go back to the application and start again.',
        );
      }
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
      };
    },

    /** The person is who they said: continue the authorization (303 back to the provider). */
    finishLogin(ctx: Koa.Context, login: LoginResult): Promise<void> {
      return finish(ctx, { login: { ...login, remember: true } }, true);
    },

    /** Records what the person approved in the interaction's grant and continues. */
    async finishConsent(
      ctx: Koa.Context,
      interaction: PendingInteraction,
      decision: ConsentDecision,
    ): Promise<void> {
      const p = provider();
      const accountId = interaction.session?.accountId;
      if (!accountId) throw new InteractionNotFound('Sign in first.');
      const grant =
        (interaction.grantId ? await p.Grant.find(interaction.grantId) : undefined) ??
        new p.Grant({ accountId, clientId: interaction.client.clientId });
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
      const grantId = await grant.save();
      await finish(ctx, { consent: { grantId } }, true);
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
