// `portcullis issuer show|set`: the issuer this database serves. Only `set` changes it, and what
// derives from it (the admin API's identifier, its clients, the account page's client), audited.
import type { Command } from 'commander';
import { adminApiIdentifier } from '../../admin/adminApi.ts';
import { auditChange, withApp } from '../context.ts';
import { print } from '../output.ts';

export function registerIssuerCommands(program: Command): void {
  const issuer = program
    .command('issuer')
    .description('show or change the issuer this database serves');

  issuer
    .command('show')
    .description('print the issuer this database serves and the configured ISSUER')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withApp(
        async (app) => {
          const stored = await app.issuer.stored();
          const configured = app.config.issuer;
          print(opts.json, { stored, configured, matches: stored === configured }, () => {
            process.stdout.write(`served: ${stored}\n`);
            process.stdout.write(
              stored === configured
                ? `ISSUER: ${configured} (the same)\n`
                : `ISSUER: ${configured} (differs: a server refuses to start; \`portcullis issuer set ${configured}\` moves the database)\n`,
            );
          });
        },
        { warnOnOtherIssuer: false },
      );
    });

  issuer
    .command('set')
    .description(
      'make URL the issuer this database serves: moves the admin API identifier and the clients allowed it (restart every instance with ISSUER=URL)',
    )
    .argument('<url>', 'the new issuer, e.g. https://auth.example.com')
    .option('--json', 'print the result as JSON')
    .action(async (url: string, opts: { json?: boolean }) => {
      await withApp(
        async (app) => {
          const change = await app.issuer.change(url);
          const changed = change.from !== change.to;
          if (changed)
            await auditChange(
              app,
              'issuer.changed',
              { type: 'issuer', id: change.to },
              { from: change.from, to: change.to, clientsMoved: change.clientsMoved },
            );
          print(opts.json, { ...change, changed }, () => {
            process.stdout.write(
              changed
                ? `this database now serves ${change.to} (was ${change.from}): admin API ${adminApiIdentifier(change.to)}, ${change.clientsMoved} clients moved\n`
                : `this database already serves ${change.to}: nothing changed\n`,
            );
          });
        },
        { warnOnOtherIssuer: false },
      );
    });
}
