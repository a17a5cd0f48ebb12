// Client-initiated backchannel authentication (CIBA, poll and ping): oidc-provider's hooks over
// the approvals of src/ciba/ (the person decides on their account page) and its completion: an
// approved request becomes a grant the library turns into tokens, a denied one access_denied.
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Accounts } from '../accounts/accounts.ts';
import type { AuditEventInput } from '../audit/log.ts';
import {
  type Approvals,
  bindingMessageProblem,
  type Decided,
  MAX_PENDING_PER_CLIENT,
} from '../ciba/approvals.ts';
import { type Clock, epochSeconds } from '../clock.ts';
import { errorFacts, type Logger } from '../log.ts';
import type { MailOutbox } from '../mail/outbox.ts';
import type { AssurancePolicy } from './assurancePolicy.ts';
import type { OidcRuntime } from './provider.ts';
import { OIDC_SCOPES } from './resources.ts';

/** The longest request_context accepted (it is not used: Portcullis reads no context). */
const REQUEST_CONTEXT_MAX = 2048;

export interface CibaOptions {
  accounts: Accounts;
  approvals: Approvals;
  assurancePolicy: AssurancePolicy;
  mail: MailOutbox;
  issuer: string;
  /** CIBA_MAX_EXPIRY_SECONDS: the longest a request waits (requested_expiry is capped to it). */
  maxExpirySeconds: number;
  /** CIBA_DEFAULT_EXPIRY_SECONDS: how long a request without requested_expiry waits. */
  defaultExpirySeconds: number;
  record: (event: AuditEventInput) => Promise<void>;
  clock: Clock;
}

/** The mail a person gets: who asks and the binding message, no code or token, no link to follow blindly. */
export function approvalMail(
  clientName: string,
  bindingMessage: string | undefined,
  issuer: string,
) {
  const what = bindingMessage ? `: ${bindingMessage}` : '';
  return {
    subject: `${clientName} asks you to approve a sign-in`,
    text: [
      `${clientName} asks you to approve${what}.`,
      '',
      `Open your account page (${issuer}/account/approvals) to approve or deny it.`,
      'If you did not expect this, deny it.',
    ].join('\n'),
  };
}

/** `features.ciba` of the configuration, and `ttl.BackchannelAuthenticationRequest`. */
export function cibaConfiguration(options: CibaOptions) {
  const { accounts, approvals, assurancePolicy, mail } = options;

  const expirySeconds = (ctx: KoaContextWithOIDC | undefined): number => {
    const asked = Number(ctx?.oidc?.params?.requested_expiry);
    const wanted = Number.isSafeInteger(asked) && asked > 0 ? asked : options.defaultExpirySeconds;
    return Math.min(wanted, options.maxExpirySeconds);
  };

  const feature = {
    enabled: true,
    deliveryModes: ['poll', 'ping'],

    /** login_hint: the person's email address or account id; anyone else is unknown_user_id. */
    async processLoginHint(_ctx: KoaContextWithOIDC, loginHint: string) {
      const user = await accounts.get(loginHint.trim());
      return user?.status === 'active' ? user.id : undefined;
    },

    async processLoginHintToken(): Promise<string | undefined> {
      throw new errors.InvalidRequest(
        'login_hint_token is not supported: identify the person with login_hint (their email address or account id) or id_token_hint',
      );
    },

    /** No user codes; and (before anything is saved) no more than a few waiting approvals. */
    async verifyUserCode(
      ctx: KoaContextWithOIDC,
      account: { accountId: string },
      userCode?: string,
    ) {
      if (userCode !== undefined)
        throw new errors.InvalidRequest('user_code is not supported by this server');
      const clientId = ctx.oidc.client?.clientId ?? '';
      if (!(await approvals.mayRequest(account.accountId, clientId)))
        throw new errors.InvalidRequest(
          `this person already has ${MAX_PENDING_PER_CLIENT} requests of this client waiting: wait for a decision or for one to expire`,
        );
    },

    async validateBindingMessage(_ctx: KoaContextWithOIDC, bindingMessage?: string) {
      const problem = bindingMessageProblem(bindingMessage);
      if (problem) throw new errors.InvalidBindingMessage(problem);
    },

    async validateRequestContext(ctx: KoaContextWithOIDC, requestContext?: string) {
      if (requestContext !== undefined && requestContext.length > REQUEST_CONTEXT_MAX)
        throw new errors.InvalidRequest(
          `request_context must be at most ${REQUEST_CONTEXT_MAX} characters`,
        );
      // What a person approves is shown as a client and a binding message: payments and other
      // authorization details need the consent page of a browser login.
      if (ctx.oidc.params?.authorization_details !== undefined)
        throw new errors.InvalidRequest(
          'authorization_details are not supported in backchannel authentication requests',
        );
    },

    /** Records the pending approval on the person's account page, and mails them when possible. */
    async triggerAuthenticationDevice(
      ctx: KoaContextWithOIDC,
      request: { jti: string; exp?: number; iat?: number; expiration: number; scope?: string },
      account: { accountId: string },
      client: { clientId: string; clientName?: string; backchannelTokenDeliveryMode?: string },
    ) {
      const need = await assurancePolicy.required(
        ctx.oidc.params as Record<string, unknown>,
        client as never,
      );
      const bindingMessage = ctx.oidc.params?.binding_message as string | undefined;
      const clientName = client.clientName ?? client.clientId;
      // The library's own clock and lifetime: the approval waits exactly as long as the request.
      const exp = request.exp ?? (request.iat ?? epochSeconds(options.clock)) + request.expiration;
      const expiresAt = new Date(exp * 1000);
      const approval = await approvals.request({
        clientId: client.clientId,
        clientName,
        accountId: account.accountId,
        authReqId: request.jti,
        bindingMessage,
        scope: request.scope ?? '',
        level: need.level,
        expiresAt,
      });
      const user = await accounts.get(account.accountId);
      const mailed =
        user?.email !== undefined &&
        (await mail.enqueue({
          to: user.email,
          ...approvalMail(clientName, bindingMessage, options.issuer),
        }));
      await options.record({
        actor: { type: 'client', id: client.clientId },
        action: 'ciba.requested',
        target: { type: 'user', id: account.accountId },
        outcome: 'success',
        sourceIp: ctx.ip,
        userAgent: ctx.get('user-agent').slice(0, 256) || undefined,
        details: {
          approval: approval.id,
          level: approval.requiredLevel,
          mode: client.backchannelTokenDeliveryMode ?? 'poll',
          expiresIn: Math.max(
            0,
            Math.round((expiresAt.getTime() - approval.createdAt.getTime()) / 1000),
          ),
          mailed,
        },
      });
    },
  };

  return {
    feature,
    ttl: (ctx: KoaContextWithOIDC | undefined) => expirySeconds(ctx),
  };
}

export type CibaConfiguration = ReturnType<typeof cibaConfiguration>;

/** Discovery tells the truth: no user codes (the library always says they are supported). */
export function cibaDiscovery(provider: Provider): void {
  provider.use(async (ctx, next) => {
    await next();
    const body = ctx.body as Record<string, unknown> | undefined;
    if (ctx.oidc?.route === 'discovery' && body?.backchannel_authentication_endpoint)
      body.backchannel_user_code_parameter_supported = false;
  });
}

/** How the person approved: the acr and amr of the second factor made for the approval. */
export interface ApprovalLogin {
  acr: string;
  amr: string[];
  /** Seconds since the epoch. */
  authTime: number;
}

/**
 * Completes decided approvals in the provider: an approval becomes a grant of exactly the
 * scopes requested (the token endpoint still narrows them to the person's roles and to the
 * level reached), a denial access_denied. A ping client is notified by the library.
 */
export function createCibaCompletion(runtime: () => OidcRuntime, logger: Logger) {
  /** The library saves the result, then pings a ping client: a failed ping is logged, the client may still poll. */
  const settle = async (run: () => Promise<void>, clientId: string) => {
    try {
      await run();
    } catch (err) {
      if (!(err instanceof Error) || !/expected 204|fetch|abort|timeout/i.test(err.message))
        throw err;
      logger.warn({ client: clientId, err: errorFacts(err) }, 'CIBA ping notification failed');
    }
  };
  return {
    async complete(decided: Decided, login?: ApprovalLogin): Promise<void> {
      const provider = runtime().provider;
      const request = await provider.BackchannelAuthenticationRequest.find(decided.authReqId, {
        ignoreExpiration: true,
      });
      if (!request) return; // expired and swept: the client gets expired_token or invalid_grant
      if (decided.status === 'denied' || !login) {
        await settle(
          () =>
            provider.backchannelResult(
              request,
              new errors.AccessDenied('the person denied the request'),
            ),
          decided.clientId,
        );
        return;
      }
      const grant = new provider.Grant({
        accountId: decided.accountId,
        clientId: decided.clientId,
      });
      const scopes = String(request.scope ?? '')
        .split(' ')
        .filter(Boolean);
      const oidcScopes = scopes.filter((s) => OIDC_SCOPES.has(s));
      const apiScopes = scopes.filter((s) => !OIDC_SCOPES.has(s));
      if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
      const resources = request.resource === undefined ? [] : [request.resource].flat();
      for (const resource of resources)
        if (apiScopes.length) grant.addResourceScope(String(resource), apiScopes.join(' '));
      await grant.save();
      await settle(
        () =>
          provider.backchannelResult(request, grant, {
            acr: login.acr,
            amr: login.amr,
            authTime: login.authTime,
          }),
        decided.clientId,
      );
    },
  };
}

export type CibaCompletion = ReturnType<typeof createCibaCompletion>;
