// `portcullis consent list|show|revoke`: the consents people gave clients (payments, account
// access), and revoking one, which also ends its grant and the grant's tokens.
import type { Command } from 'commander';
import { consentJson } from '../../admin/routes/consents.ts';
import { CONSENT_STATUSES, type ConsentStatus } from '../../consents/consents.ts';
import { revokeConsent, revokedDetails } from '../../consents/revocation.ts';
import { auditChange, cliActor, withApp } from '../context.ts';
import { CliError, print, printTable } from '../output.ts';

const STATUSES: readonly ConsentStatus[] = CONSENT_STATUSES;
const CONSENT_ID = /^cns_[\w-]{22}$/;

function checkId(id: string): string {
  if (!CONSENT_ID.test(id))
    throw new CliError(`"${id}" is not a consent id (cns_ and 22 base64url characters)`);
  return id;
}

export function registerConsentCommands(program: Command): void {
  const consent = program
    .command('consent')
    .description('the consents people gave (payments, account access): list, show, revoke');

  consent
    .command('list')
    .description('list consents, newest first')
    .option('--user <email-or-id>', "only this person's")
    .option('--client <client-id>', "only this client's")
    .option('--status <status>', `only in this status (${STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most this many (1 to 500)', '100')
    .option('--json', 'print as JSON')
    .action(
      async (opts: {
        user?: string;
        client?: string;
        status?: string;
        limit: string;
        json?: boolean;
      }) => {
        if (opts.status && !STATUSES.includes(opts.status as ConsentStatus))
          throw new CliError(`--status must be one of ${STATUSES.join(', ')}`);
        const limit = Number(opts.limit);
        if (!/^\d+$/.test(opts.limit) || limit < 1 || limit > 500)
          throw new CliError('--limit must be a whole number from 1 to 500');
        await withApp(async (app) => {
          let accountId: string | undefined;
          if (opts.user) {
            const user = await app.services.accounts.get(opts.user);
            if (!user) throw new CliError(`no user ${opts.user}`);
            accountId = user.id;
          }
          const found = await app.services.consents.list({
            ...(accountId ? { accountId } : {}),
            ...(opts.client ? { clientId: opts.client } : {}),
            ...(opts.status ? { status: opts.status as ConsentStatus } : {}),
            limit,
          });
          print(opts.json, { consents: found.map(consentJson) }, () =>
            printTable(
              found.map((c) => ({ ...c, account: c.accountId, client: c.clientId })),
              ['id', 'status', 'types', 'client', 'account', 'createdAt', 'expiresAt'],
            ),
          );
        });
      },
    );

  consent
    .command('show')
    .description('show one consent with its authorization details')
    .argument('<id>')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      checkId(id);
      await withApp(async (app) => {
        const found = await app.services.consents.find(id);
        if (!found) throw new CliError(`no consent ${id}`);
        print(opts.json, consentJson(found), () => {
          const { authorizationDetails, ...rest } = consentJson(found);
          for (const [k, v] of Object.entries(rest))
            process.stdout.write(`${k}: ${Array.isArray(v) ? v.join(' ') : (v ?? '')}\n`);
          process.stdout.write(`authorizationDetails: ${JSON.stringify(authorizationDetails)}\n`);
        });
      });
    });

  consent
    .command('revoke')
    .description("revoke an authorised consent: its grant and the grant's tokens end too")
    .argument('<id>')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      checkId(id);
      await withApp(async (app) => {
        const { consents, grants } = app.services;
        if (!(await consents.find(id))) throw new CliError(`no consent ${id}`);
        const revoked = await revokeConsent({ consents, grants }, id, cliActor());
        if (revoked.changed)
          await auditChange(
            app,
            'consent.revoked',
            { type: 'consent', id },
            revokedDetails(revoked),
          );
        print(
          opts.json,
          { ...consentJson(revoked.consent), tokensRevoked: revoked.tokensRevoked },
          () =>
            process.stdout.write(
              revoked.changed
                ? `revoked ${id} (${revoked.tokensRevoked} tokens and codes of its grant ended)\n`
                : `${id} was revoked already\n`,
            ),
        );
      });
    });
}
