// `portcullis admin bootstrap`: the first administrator and a client for automating the admin API.
import type { Command } from 'commander';
import { adminApiIdentifier } from '../../admin/adminApi.ts';
import { assertBootstrapAllowed, bootstrapAdmin } from '../../admin/bootstrap.ts';
import { auditChange, withApp } from '../context.ts';
import { print } from '../output.ts';
import { readPassword } from '../password.ts';

interface BootstrapOptions {
  email: string;
  name?: string;
  json?: boolean;
  force?: boolean;
  clientGrantAdmin?: boolean;
}

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('set up the admin API');

  admin
    .command('bootstrap')
    .description(
      'create the first administrator (password read from stdin or asked for) and an admin client for automation; prints its secret once',
    )
    .requiredOption('--email <email>', "the administrator's email address")
    .option('--name <name>', "the administrator's name")
    .option('--force', 'run even though an administrator role exists (adds another administrator)')
    .option(
      '--client-grant-admin',
      'also give the automation client admin:grant-admin, so it can hand out the admin scopes it holds',
    )
    .option('--json', 'print the result as JSON')
    .action(async (opts: BootstrapOptions) => {
      await withApp(async (app) => {
        const { roles, accounts, clients } = app.services;
        // Refuse before asking for a password that would not be used.
        await assertBootstrapAllowed(roles, app.config.issuer, opts.force === true);
        const password = await readPassword({ confirm: true });
        const result = await bootstrapAdmin(
          { roles, accounts, clients },
          {
            issuer: app.config.issuer,
            email: opts.email,
            name: opts.name,
            password,
            force: opts.force === true,
            clientGrantAdmin: opts.clientGrantAdmin === true,
          },
        );
        const { user, role, roleBefore, client, clientSecret } = result;
        await auditChange(
          app,
          roleBefore ? 'role.updated' : 'role.created',
          { type: 'role', id: role.name },
          roleBefore ? { before: roleBefore.scopes, after: role.scopes } : { scopes: role.scopes },
        );
        await auditChange(
          app,
          'user.created',
          { type: 'user', id: user.id },
          { email: user.email },
        );
        await auditChange(
          app,
          'role.granted',
          { type: 'user', id: user.id },
          { role: role.name, before: [], after: user.roles },
        );
        await auditChange(
          app,
          'client.created',
          { type: 'client', id: client.clientId },
          { name: client.name, grantTypes: client.grantTypes, apiAccess: client.apiAccess },
        );
        await auditChange(
          app,
          'admin.bootstrapped',
          { type: 'user', id: user.id },
          {
            client: client.clientId,
            forced: opts.force === true,
            clientGrantAdmin: opts.clientGrantAdmin === true,
          },
        );
        const audience = adminApiIdentifier(app.config.issuer);
        const tokenEndpoint = `${app.config.issuer}/token`;
        print(
          opts.json,
          {
            user: { id: user.id, email: user.email, roles: user.roles },
            role: { name: role.name, scopes: role.scopes },
            client: {
              clientId: client.clientId,
              name: client.name,
              scopes: client.apiAccess[audience] ?? [],
            },
            clientSecret,
            tokenEndpoint,
            audience,
          },
          () => {
            const out = (line: string) => process.stdout.write(`${line}\n`);
            out(`administrator: ${user.email} (${user.id}), role ${role.name}`);
            out(
              `admin client for automation (client credentials): ${(client.apiAccess[audience] ?? []).join(' ')}`,
            );
            out(`client_id:     ${client.clientId}`);
            out(`client_secret: ${clientSecret}`);
            out(`token:         POST ${tokenEndpoint} with resource=${audience}`);
            out('Store the secret now: it is not shown again.');
          },
        );
      });
    });
}
