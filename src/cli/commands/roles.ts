// `portcullis role …`: roles, named sets of (API, scope) pairs, and who has them. A scope is
// named `--scope 'URI scope'` (the API's identifier, a space, the scope), or by its bare name
// when exactly one API defines it. The CLI is the operator with database access: unrestricted.
import type { Command } from 'commander';
import type { ApiScopes, Role } from '../../accounts/roles.ts';
import { auditChange, withApp } from '../context.ts';
import { CliError, print, printTable } from '../output.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Scopes per API for people: `https://a.example: read write; https://b.example: pay`. */
export function scopesText(scopes: ApiScopes): string {
  return Object.entries(scopes)
    .map(([identifier, names]) => `${identifier}: ${names.join(' ')}`)
    .join('; ');
}

const SCOPE_HELP =
  "a scope the role grants, as 'API-identifier scope' or a bare name only one API defines (repeat)";

export function registerRoleCommands(program: Command): void {
  const role = program
    .command('role')
    .description('manage roles: named sets of API scopes, each scope of one API');

  role
    .command('create')
    .description('create a role granting API scopes')
    .requiredOption('--name <name>', 'the role name')
    .requiredOption('--scope <scope>', SCOPE_HELP, collect)
    .option('--description <text>', 'what the role is for')
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: { name: string; scope: string[]; description?: string; json?: boolean }) => {
        await withApp(async (app) => {
          const created = await app.services.roles.create({
            name: opts.name,
            description: opts.description,
            scopes: opts.scope,
          });
          await auditChange(
            app,
            'role.created',
            { type: 'role', id: created.name },
            { scopes: created.scopes },
          );
          print(opts.json, created, () =>
            process.stdout.write(`created role ${created.name}: ${scopesText(created.scopes)}\n`),
          );
        });
      },
    );

  role
    .command('list')
    .description('list roles')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withApp(async (app) => {
        const list = await app.services.roles.list();
        print(opts.json, list, () =>
          printTable(
            list.map((r) => ({ ...r, scopes: scopesText(r.scopes) })),
            ['name', 'members', 'scopes', 'description'],
          ),
        );
      });
    });

  role
    .command('show')
    .description('show one role: its scopes, API by API, and number of members')
    .argument('<name>')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      await withApp(async (app) => {
        const found: Role | undefined = await app.services.roles.get(name);
        if (!found) throw new CliError(`no role named ${name}`);
        print(opts.json, found, () => {
          const out = (line: string) => process.stdout.write(`${line}\n`);
          out(`name         ${found.name}`);
          out(`description  ${found.description}`);
          out(`members      ${found.members}`);
          out('scopes');
          for (const [identifier, scopes] of Object.entries(found.scopes))
            out(`  ${identifier}  ${scopes.join(' ')}`);
        });
      });
    });

  role
    .command('grant')
    .description('give a user a role')
    .requiredOption('--user <email>', 'the user')
    .requiredOption('--role <name>', 'the role')
    .action(async (opts: { user: string; role: string }) => {
      await withApp(async (app) => {
        const before = (await app.services.accounts.get(opts.user))?.roles ?? [];
        const changed = await app.services.roles.grant(opts.user, opts.role);
        const after = (await app.services.accounts.get(opts.user))?.roles ?? [];
        if (changed) {
          const user = (await app.services.accounts.get(opts.user))!;
          await auditChange(
            app,
            'role.granted',
            { type: 'user', id: user.id },
            { role: opts.role, before, after },
          );
        }
        process.stdout.write(
          changed
            ? `${opts.user} now has the role ${opts.role}\n`
            : `${opts.user} already had the role ${opts.role}\n`,
        );
      });
    });

  role
    .command('revoke')
    .description('take a role from a user')
    .requiredOption('--user <email>', 'the user')
    .requiredOption('--role <name>', 'the role')
    .action(async (opts: { user: string; role: string }) => {
      await withApp(async (app) => {
        const before = (await app.services.accounts.get(opts.user))?.roles ?? [];
        const changed = await app.services.roles.revoke(opts.user, opts.role);
        const after = (await app.services.accounts.get(opts.user))?.roles ?? [];
        if (changed) {
          const user = (await app.services.accounts.get(opts.user))!;
          await auditChange(
            app,
            'role.revoked',
            { type: 'user', id: user.id },
            { role: opts.role, before, after },
          );
        }
        process.stdout.write(
          changed
            ? `${opts.user} no longer has the role ${opts.role}\n`
            : `${opts.user} did not have the role ${opts.role}\n`,
        );
      });
    });
}
