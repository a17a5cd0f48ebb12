// Listens to the provider's events: token issuance metrics and one log line per protocol error.
// Only the OAuth error code and description are logged: never a token, code or secret.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Metrics } from '../http/metrics.ts';
import type { Logger } from '../log.ts';

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

export function attachProviderEvents(
  provider: Provider,
  { logger, metrics }: { logger: Logger; metrics: Metrics },
) {
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    metrics.tokens.inc({ grant_type: String(ctx.oidc.params?.grant_type ?? 'unknown') });
  });
  for (const event of ERROR_EVENTS) {
    (provider.on as (e: string, listener: (...args: never[]) => void) => void)(
      event,
      (ctx: KoaContextWithOIDC, err: { error?: string; error_description?: string }) => {
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
      },
    );
  }
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: Error) => {
    logger.error(
      {
        reqId: ctx?.state?.requestId,
        event: 'server_error',
        err: { name: err.name, message: err.message },
      },
      'provider error',
    );
  });
}
