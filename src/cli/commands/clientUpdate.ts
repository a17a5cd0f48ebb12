// `portcullis client update`: what an administrator changes on a client in place, its request
// limit and its logout URIs (back- and front-channel), audited with the values before and after.
import type { Command } from 'commander';
import type { ClientView } from '../../oidc/clients.ts';
import { auditChange, withApp } from '../context.ts';
import { CliError, print } from '../output.ts';
import { clientJson, limitSummary, rateLimitText, readRateLimit } from './clients.ts';

interface UpdateOptions {
  rateLimit?: string;
  backchannelLogoutUri?: string;
  frontchannelLogoutUri?: string;
  json?: boolean;
}

/** A URI, or `none` (null: removed); undefined: unchanged. */
const uriOrNone = (value: string | undefined) =>
  value === undefined ? undefined : value.trim() === 'none' ? null : value;

const logoutSummary = (c: ClientView) => ({
  backchannelLogoutUri: c.backchannelLogoutUri,
  frontchannelLogoutUri: c.frontchannelLogoutUri,
});

export function registerClientUpdate(client: Command): void {
  client
    .command('update')
    .description("change a client's request limit or logout URIs")
    .argument('<client-id>')
    .option(
      '--rate-limit <N/SECONDS|default>',
      'at most N requests per window of SECONDS at the token, introspection, revocation, PAR and admin endpoints; default: CLIENT_RATE_LIMIT',
    )
    .option(
      '--backchannel-logout-uri <uri|none>',
      'where signed logout tokens are posted (OpenID Connect Back-Channel Logout); none removes it',
    )
    .option(
      '--frontchannel-logout-uri <uri|none>',
      'the page loaded in an iframe when a person signs out (Front-Channel Logout); none removes it',
    )
    .option('--json', 'print the client as JSON')
    .action(async (clientId: string, opts: UpdateOptions) => {
      const logout = {
        backchannelLogoutUri: uriOrNone(opts.backchannelLogoutUri),
        frontchannelLogoutUri: uriOrNone(opts.frontchannelLogoutUri),
      };
      const changesLogout = Object.values(logout).some((v) => v !== undefined);
      if (opts.rateLimit === undefined && !changesLogout)
        throw new CliError(
          'nothing to change: give --rate-limit, --backchannel-logout-uri or --frontchannel-logout-uri',
        );
      const rateLimit = opts.rateLimit === undefined ? undefined : readRateLimit(opts.rateLimit);
      await withApp(async (app) => {
        const before = await app.services.clients.get(clientId);
        if (!before) throw new CliError(`no client ${clientId}`);
        // Brought back to its definition at every start: a change would not last.
        if (before.createdBy === 'system')
          throw new CliError('this client is managed by Portcullis itself and cannot be changed');
        let after = before;
        if (changesLogout) after = await app.services.clients.setLogoutUris(clientId, logout);
        if (rateLimit !== undefined)
          after = await app.services.clients.setRateLimit(clientId, rateLimit);
        const summary = (c: ClientView) => ({
          ...(rateLimit !== undefined ? limitSummary(c) : {}),
          ...(changesLogout ? logoutSummary(c) : {}),
        });
        await auditChange(
          app,
          'client.updated',
          { type: 'client', id: clientId },
          { before: summary(before), after: summary(after) },
        );
        print(opts.json, clientJson(after), () => {
          if (rateLimit !== undefined)
            process.stdout.write(`rate limit of ${clientId}: ${rateLimitText(app, after)}\n`);
          if (changesLogout)
            process.stdout.write(
              `logout URIs of ${clientId}: back-channel ${after.backchannelLogoutUri ?? 'none'}, front-channel ${after.frontchannelLogoutUri ?? 'none'}\n`,
            );
        });
      });
    });
}
