// `portcullis admin bootstrap`: the first administrator and a client for automating the admin API.
import type { Command } from 'commander';
import { adminApiIdentifier } from '../../admin/adminApi.ts';
import {
  type AutomationClientKeys,
  assertAutomationClientKeys,
  assertBootstrapAllowed,
  bootstrapAdmin,
} from '../../admin/bootstrap.ts';
import { PROFILE_NAMES, type ProfileName } from '../../oidc/profiles.ts';
import { auditChange, withApp } from '../context.ts';
import { CliError, print } from '../output.ts';
import { readPassword } from '../password.ts';
import { readJwks } from './clients.ts';

interface BootstrapOptions {
  email: string;
  name?: string;
  json?: boolean;
  force?: boolean;
  clientGrantAdmin?: boolean;
  jwksFile?: string;
  profile?: string;
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
    .option(
      '--jwks-file <file>',
      "the automation client's public keys (JWK Set): it authenticates with private_key_jwt instead of a secret (required under FAPI_PROFILE=2.0)",
    )
    .option(
      '--profile <profile>',
      `the automation client's profile: ${PROFILE_NAMES.join(', ')} (fapi2: private_key_jwt and DPoP-bound tokens; needs --jwks-file)`,
    )
    .option('--json', 'print the result as JSON')
    .action(async (opts: BootstrapOptions) => {
      if (opts.profile !== undefined && !PROFILE_NAMES.includes(opts.profile as ProfileName))
        throw new CliError(`--profile must be one of ${PROFILE_NAMES.join(', ')}`);
      const jwks = opts.jwksFile ? readJwks(opts.jwksFile) : undefined;
      await withApp(async (app) => {
        const { roles, accounts, clients } = app.services;
        const clientKeys: AutomationClientKeys = {
          jwks,
          profile: opts.profile as ProfileName | undefined,
          serverProfile: app.config.fapiProfile,
        };
        // Refuse before asking for a password that would not be used.
        await assertBootstrapAllowed(roles, app.config.issuer, opts.force === true);
        assertAutomationClientKeys(clientKeys);
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
            clientKeys,
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
              authMethod: client.authMethod,
              profile: client.profile,
              senderConstraint: client.senderConstraint,
            },
            ...(clientSecret ? { clientSecret } : {}),
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
            if (clientSecret) {
              out(`client_secret: ${clientSecret}`);
              out(`token:         POST ${tokenEndpoint} with resource=${audience}`);
              out('Store the secret now: it is not shown again.');
              return;
            }
            const dpop = client.senderConstraint === 'dpop';
            out(`auth:          private_key_jwt with the keys of ${opts.jwksFile}`);
            out(
              `token:         POST ${tokenEndpoint} with resource=${audience}${dpop ? ' and a DPoP proof' : ''}`,
            );
            if (dpop)
              out('Call the admin API with Authorization: DPoP <token> and a fresh DPoP proof.');
          },
        );
      });
    });
}
