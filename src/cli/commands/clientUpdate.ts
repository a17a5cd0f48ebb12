// `portcullis client update`: what an administrator changes on a client in place — its request
// limit, the algorithms of the responses signed for it (ID tokens, UserInfo, JARM, introspection)
// and its logout URIs (back- and front-channel) — audited with the values before and after.
import type { Command } from 'commander';
import type { App } from '../../app.ts';
import { formatRateLimit, parseRateLimit, type RateLimit } from '../../limits/rateLimit.ts';
import type { ClientView } from '../../oidc/clients.ts';
import { auditChange, withApp } from '../context.ts';
import { CliError, print } from '../output.ts';

/** A URI, or `none` (null: removed); undefined: unchanged. */
const uriOrNone = (value: string | undefined) =>
  value === undefined ? undefined : value.trim() === 'none' ? null : value;

const logoutSummary = (c: ClientView) => ({
  backchannelLogoutUri: c.backchannelLogoutUri,
  frontchannelLogoutUri: c.frontchannelLogoutUri,
});

export const clientJson = (c: ClientView) => ({
  ...c,
  createdAt: c.createdAt.toISOString(),
  updatedAt: c.updatedAt.toISOString(),
});

/** --rate-limit N/SECONDS, or `default` (null: the default of CLIENT_RATE_LIMIT). */
export function readRateLimit(value: string): RateLimit | null {
  if (value.trim() === 'default') return null;
  const limit = parseRateLimit(value);
  if (typeof limit === 'string') throw new CliError(`--rate-limit ${limit}, or default`);
  return limit;
}

/** A client's limit as people read it, its origin included. */
export const rateLimitText = (app: App, c: ClientView) =>
  c.rateLimit
    ? formatRateLimit(c.rateLimit)
    : `default (${formatRateLimit(app.config.clientRateLimit.default)})`;

interface UpdateOptions {
  rateLimit?: string;
  idTokenAlg?: string;
  userinfoAlg?: string;
  authorizationAlg?: string;
  introspectionAlg?: string;
  backchannelLogoutUri?: string;
  frontchannelLogoutUri?: string;
  json?: boolean;
}

/** --id-token-alg and its kin: the algorithm of each response signed for the client. */
export function signingOptions(command: Command): Command {
  return command
    .option('--id-token-alg <alg>', 'algorithm of its ID tokens, one of SIGNING_ALGS (e.g. RS256)')
    .option('--userinfo-alg <alg>', 'sign its UserInfo responses (JWT) with this algorithm')
    .option('--authorization-alg <alg>', 'algorithm of its JARM authorization responses')
    .option('--introspection-alg <alg>', 'algorithm of its JWT introspection responses');
}

export function registerClientUpdate(client: Command): void {
  signingOptions(
    client
      .command('update')
      .description(
        "change a client's request limit, the algorithms of its signed responses or its logout URIs",
      )
      .argument('<client-id>')
      .option(
        '--rate-limit <N/SECONDS|default>',
        'at most N requests per window of SECONDS at the token, introspection, revocation, PAR and admin endpoints; default: CLIENT_RATE_LIMIT',
      ),
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
      const signing = {
        idTokenAlg: opts.idTokenAlg,
        userinfoAlg: opts.userinfoAlg,
        authorizationAlg: opts.authorizationAlg,
        introspectionAlg: opts.introspectionAlg,
      };
      const changesSigning = Object.values(signing).some((v) => v !== undefined);
      const logout = {
        backchannelLogoutUri: uriOrNone(opts.backchannelLogoutUri),
        frontchannelLogoutUri: uriOrNone(opts.frontchannelLogoutUri),
      };
      const changesLogout = Object.values(logout).some((v) => v !== undefined);
      if (opts.rateLimit === undefined && !changesSigning && !changesLogout)
        throw new CliError('nothing to change (see "portcullis client update --help")');
      const rateLimit = opts.rateLimit === undefined ? undefined : readRateLimit(opts.rateLimit);
      await withApp(async (app) => {
        const before = await app.services.clients.get(clientId);
        if (!before) throw new CliError(`no client ${clientId}`);
        // Brought back to its definition at every start: a change would not last.
        if (before.createdBy === 'system')
          throw new CliError('this client is managed by Portcullis itself and cannot be changed');
        let after = before;
        if (changesSigning)
          after = await app.services.clients.setResponseSigning(clientId, signing);
        if (changesLogout) after = await app.services.clients.setLogoutUris(clientId, logout);
        if (rateLimit !== undefined)
          after = await app.services.clients.setRateLimit(clientId, rateLimit);
        const summary = (c: ClientView) => ({
          // The audit log holds, before and after, what this command changed.
          ...(rateLimit !== undefined ? { rateLimit: c.rateLimit } : {}),
          ...(changesSigning ? { signing: c.signing } : {}),
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
          if (changesSigning)
            process.stdout.write(
              `signed responses of ${clientId}: ${JSON.stringify({ idTokenAlg: app.config.keys.alg, ...after.signing })}\n`,
            );
          if (changesLogout)
            process.stdout.write(
              `logout URIs of ${clientId}: back-channel ${after.backchannelLogoutUri ?? 'none'}, front-channel ${after.frontchannelLogoutUri ?? 'none'}\n`,
            );
        });
      });
    });
}
