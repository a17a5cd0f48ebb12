// `portcullis access-review`: who holds which scopes through their roles, when they last signed
// in, and which granted scopes went unused, as a table or JSON; then warnings about clients.
import type { Command } from 'commander';
import { accessReview } from '../../audit/accessReview.ts';
import { withApp } from '../context.ts';
import { CliError, print, printTable } from '../output.ts';
import { scopesText } from './roles.ts';

export function registerAccessReviewCommand(program: Command): void {
  program
    .command('access-review')
    .description(
      'every user with their roles, the scopes those grant, last sign-in, and granted scopes not used lately',
    )
    .option(
      '--unused-days <n>',
      'a scope is unused when no token carried it for this many days',
      '90',
    )
    .option('--json', 'print as JSON')
    .action(async (opts: { unusedDays: string; json?: boolean }) => {
      const days = Number(opts.unusedDays);
      if (!/^\d+$/.test(opts.unusedDays) || days < 1 || days > 3650)
        throw new CliError('--unused-days must be a whole number from 1 to 3650');
      await withApp(async (app) => {
        const { accounts, roles, audit, clients } = app.services;
        const review = await accessReview(
          { accounts, roles, audit, clients, clock: app.clock },
          { unusedDays: days },
        );
        print(
          opts.json,
          {
            generatedAt: review.generatedAt.toISOString(),
            since: review.since.toISOString(),
            unusedDays: review.unusedDays,
            users: review.users.map((u) => ({
              ...u,
              lastLoginAt: u.lastLoginAt?.toISOString() ?? null,
            })),
            clientWarnings: review.clientWarnings,
          },
          () => {
            printTable(
              review.users.map((u) => ({
                ...u,
                scopes: scopesText(u.scopes),
                last_login: u.lastLoginAt ?? 'never',
                unused: scopesText(u.unusedScopes),
              })),
              ['email', 'status', 'roles', 'scopes', 'last_login', 'unused'],
            );
            process.stdout.write(
              `unused: granted scopes no token carried since ${review.since.toISOString()} (${days} days)\n`,
            );
            for (const c of review.clientWarnings)
              for (const w of c.warnings)
                process.stdout.write(`warning: client ${c.clientId} (${c.name}): ${w}\n`);
          },
        );
      });
    });
}
