// `portcullis user …`: the people who sign in (their roles: `portcullis role …`, roles.ts).
import type { Command } from 'commander';
import type { User } from '../../accounts/accounts.ts';
import { auditChange, withApp } from '../context.ts';
import { CliError, print, printTable } from '../output.ts';
import { readPassword } from '../password.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

const userJson = (u: User) => ({
  ...u,
  createdAt: u.createdAt.toISOString(),
  passwordChangedAt: u.passwordChangedAt?.toISOString() ?? null,
  lastLoginAt: u.lastLoginAt?.toISOString() ?? null,
});

function printUser(json: boolean | undefined, user: User, extra: Record<string, unknown> = {}) {
  print(json, { ...userJson(user), ...extra }, () => {
    for (const [k, v] of Object.entries({ ...userJson(user), ...extra })) {
      process.stdout.write(`${k.padEnd(20)}${Array.isArray(v) ? v.join(', ') : String(v ?? '')}\n`);
    }
  });
}

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage the people who sign in');

  user
    .command('create')
    .description('create a user; the password is read from stdin or asked for (never an argument)')
    .requiredOption('--email <email>', 'the email address they sign in with')
    .option('--name <name>', 'their name, as applications see it')
    .option('--role <role>', 'a role to give them (repeat)', collect)
    .option('--json', 'print the result as JSON')
    .action(async (opts: { email: string; name?: string; role?: string[]; json?: boolean }) => {
      const password = await readPassword({ confirm: true });
      await withApp(async (app) => {
        const created = await app.services.accounts.create({
          email: opts.email,
          name: opts.name,
          password,
          roles: opts.role,
        });
        await auditChange(
          app,
          'user.created',
          { type: 'user', id: created.id },
          { email: created.email, roles: created.roles },
        );
        print(opts.json, userJson(created), () =>
          process.stdout.write(`created user ${created.email} (${created.id})\n`),
        );
      });
    });

  user
    .command('list')
    .description('list users')
    .option('--search <text>', 'only users whose email or name contains this')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print as JSON')
    .action(async (opts: { search?: string; limit: string; json?: boolean }) => {
      if (!/^\d+$/.test(opts.limit)) throw new CliError('--limit must be a whole number');
      await withApp(async (app) => {
        const { users, total } = await app.services.accounts.search({
          text: opts.search,
          limit: Number(opts.limit),
        });
        print(opts.json, { users: users.map(userJson), total }, () =>
          printTable(
            users.map((u) => ({ ...u, last_login: u.lastLoginAt ?? '' })),
            ['email', 'name', 'status', 'roles', 'last_login'],
          ),
        );
      });
    });

  user
    .command('show')
    .description('show one user')
    .argument('<email>')
    .option('--json', 'print as JSON')
    .action(async (email: string, opts: { json?: boolean }) => {
      await withApp(async (app) => {
        const found = await app.services.accounts.get(email);
        if (!found) throw new CliError(`no user ${email}`);
        const lock = await app.services.accounts.lockState(email);
        printUser(opts.json, found, {
          failedSignIns: lock.failures,
          lockedUntil: lock.lockedUntil?.toISOString() ?? null,
        });
      });
    });

  user
    .command('set-password')
    .description("set a user's password (read from stdin or asked for)")
    .argument('<email>')
    .action(async (email: string) => {
      const password = await readPassword({ confirm: true });
      await withApp(async (app) => {
        const changed = await app.services.accounts.setPassword(email, password);
        await auditChange(
          app,
          'user.password_set',
          { type: 'user', id: changed.id },
          { revoked: changed.sessionsEnded },
        );
        process.stdout.write(
          `password changed for ${email}; every session, grant and token of theirs was ended\n`,
        );
      });
    });

  for (const [name, action, description] of [
    ['lock', 'user.locked', 'lock an account: it cannot sign in until unlocked'],
    [
      'unlock',
      'user.unlocked',
      'unlock an account (also lifts a temporary lock from failed sign-ins)',
    ],
    [
      'disable',
      'user.disabled',
      'disable an account: no sign-in, its sessions end (its applications are told), its tokens stop being refreshed',
    ],
    ['enable', 'user.enabled', 'enable a disabled account'],
  ] as const) {
    user
      .command(name)
      .description(description)
      .argument('<email>')
      .action(async (email: string) => {
        await withApp(async (app) => {
          const before = await app.services.accounts.get(email);
          const updated = await app.services.accounts[name](email);
          await auditChange(
            app,
            action,
            { type: 'user', id: updated.id },
            {
              before: before?.status,
              after: updated.status,
            },
          );
          process.stdout.write(`${updated.email} is now ${updated.status}\n`);
        });
      });
  }
}
