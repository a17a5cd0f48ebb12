// Listens to the provider's events: token issuance metrics, one log line per protocol error, and
// the audit log's protocol events (tokens issued and revoked, reused codes and refresh tokens,
// logouts). Only OAuth error codes, descriptions and ids are recorded: never a token or secret.
// The response of the request that emitted an event waits for its audit write (auditGate.ts).
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditEventInput } from '../audit/log.ts';
import { asUnavailable } from '../db/unavailable.ts';
import { abortedByClient, isClientAbort } from '../http/clientClosed.ts';
import type { Metrics } from '../http/metrics.ts';
import { errorFacts, type Logger } from '../log.ts';

const ERROR_EVENTS = [
  'authorization.error',
  'backchannel.error',
  'jwks.error',
  'discovery.error',
  'end_session.error',
  'grant.error',
  'introspection.error',
  'pushed_authorization_request.error',
  'registration_create.error',
  'registration_read.error',
  'registration_update.error',
  'registration_delete.error',
  'revocation.error',
  'userinfo.error',
];

type Listener = (...args: never[]) => void;

interface EventDeps {
  logger: Logger;
  metrics: Metrics;
  record: (event: AuditEventInput) => Promise<void>;
  /** The id of the initial access token a registration used (src/oidc/registration.ts). */
  allowanceOf?: (ctx: object) => string | undefined;
  /** Holds the current request's response until a write settles (src/oidc/auditGate.ts). */
  hold: (write: Promise<unknown>) => boolean;
}

const origin = (ctx: KoaContextWithOIDC | undefined) =>
  ctx ? { sourceIp: ctx.ip, userAgent: ctx.get('user-agent').slice(0, 256) || undefined } : {};

export function attachProviderEvents(
  provider: Provider,
  { logger, metrics, record, allowanceOf, hold }: EventDeps,
) {
  const on = (event: string, listener: Listener) =>
    (provider.on as (e: string, l: Listener) => void)(event, listener);
  // Listeners cannot delay the response themselves: the gate holds it until the write settles
  // (a failure answers 503 there). Each failure is also logged here, with the event's action.
  const audit = (event: AuditEventInput) => {
    const write = record(event);
    write.catch((err: Error) =>
      logger.error({ err: errorFacts(err), action: event.action }, 'audit write failed'),
    );
    hold(write);
  };

  on('grant.success', (ctx: KoaContextWithOIDC) => {
    const grantType = String(ctx.oidc.params?.grant_type ?? 'unknown');
    metrics.tokens.inc({ grant_type: grantType });
    const token = (ctx.oidc.entities.AccessToken ?? ctx.oidc.entities.ClientCredentials) as
      | { scope?: string; aud?: string | string[]; accountId?: string }
      | undefined;
    const clientId = ctx.oidc.client?.clientId;
    audit({
      actor: { type: 'client', id: clientId },
      action: 'token.issued',
      target: token?.accountId ? { type: 'user', id: token.accountId } : undefined,
      outcome: 'success',
      ...origin(ctx),
      details: { grantType, scope: token?.scope, audience: token?.aud },
    });
  });

  on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
    const grantType = ctx?.oidc?.params?.grant_type;
    // At the token endpoint a grant is only revoked when a code or refresh token came back.
    const action =
      ctx?.oidc?.route === 'token'
        ? grantType === 'refresh_token'
          ? 'refresh_token.reused'
          : 'authorization_code.reused'
        : 'grant.revoked';
    audit({
      actor: { type: 'client', id: ctx?.oidc?.client?.clientId },
      action,
      target: { type: 'grant', id: grantId },
      outcome: ctx?.oidc?.route === 'token' ? 'failure' : 'success',
      ...origin(ctx),
    });
  });

  for (const kind of ['access_token', 'refresh_token', 'client_credentials']) {
    on(
      `${kind}.destroyed`,
      (token: { clientId?: string; accountId?: string; grantId?: string }) => {
        audit({
          actor: { type: 'client', id: token.clientId },
          action: 'token.revoked',
          target: token.accountId ? { type: 'user', id: token.accountId } : undefined,
          outcome: 'success',
          details: { kind, grant: token.grantId },
        });
      },
    );
  }

  on('end_session.success', (ctx: KoaContextWithOIDC) => {
    const accountId = (ctx.oidc.entities.Session as { accountId?: string } | undefined)?.accountId;
    audit({
      actor: { type: 'user', id: accountId },
      action: 'logout.success',
      target: accountId ? { type: 'user', id: accountId } : undefined,
      outcome: 'success',
      ...origin(ctx),
      details: { client: ctx.oidc.client?.clientId },
    });
  });

  // Dynamic registration (RFC 7591 / 7592): a client registering, changing or deleting itself.
  for (const [event, action] of [
    ['registration_create.success', 'client.registered'],
    ['registration_update.success', 'client.updated'],
    ['registration_delete.success', 'client.deleted'],
  ] as const) {
    on(event, (ctx: KoaContextWithOIDC, client: { clientId: string }) => {
      const allowance = action === 'client.registered' ? allowanceOf?.(ctx) : undefined;
      audit({
        actor: { type: 'client', id: client.clientId },
        action,
        target: { type: 'client', id: client.clientId },
        outcome: 'success',
        ...origin(ctx),
        details: { via: 'registration', ...(allowance ? { initialAccess: allowance } : {}) },
      });
    });
  }

  for (const event of ERROR_EVENTS) {
    on(event, (ctx: KoaContextWithOIDC, err: { error?: string; error_description?: string }) => {
      logger.info(
        {
          reqId: ctx?.state?.requestId,
          event,
          error: err?.error,
          description: err?.error_description,
          client: ctx?.oidc?.client?.clientId,
        },
        'protocol error',
      );
    });
  }
  on('server_error', (ctx: KoaContextWithOIDC, err: Error) => {
    // The client closed the connection while its request body was being read: not a fault.
    // (A reset of the database's connection looks alike: that one is answered 503 below.)
    if (ctx?.req ? abortedByClient(err, ctx.req) : isClientAbort(err)) return;
    // The database out of reach: the gate answers 503 and logs it (one line, no stack).
    const unavailable = asUnavailable(err);
    if (unavailable) {
      const refused = Promise.reject(unavailable);
      refused.catch(() => {}); // handled by the gate; outside a request it is logged below
      if (hold(refused)) return;
    }
    logger.error(
      {
        reqId: ctx?.state?.requestId,
        event: 'server_error',
        err: errorFacts(err),
      },
      'provider error',
    );
  });
}
