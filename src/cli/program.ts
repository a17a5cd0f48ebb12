// The `portcullis` program: the command list (name, description, the module that declares it),
// of which only the command being run is imported. `--help`, `--version` and the command list
// cost commander alone, never the app, knex, oidc-provider or argon2.
import { readFileSync } from 'node:fs';
import { Command, Help } from 'commander';

type Register = (program: Command) => void;

export interface CommandEntry {
  name: string;
  description: string;
  /** How the top-level help lists it (what commander shows once its module declared it). */
  term?: string;
  load: () => Promise<Register>;
}

const server = async () => (await import('./commands/server.ts')).registerServerCommands;

/** In the order `--help` lists them. test/cli/cli.test.ts checks each against its module. */
export const COMMANDS: CommandEntry[] = [
  {
    name: 'serve',
    description: 'run the authorization server (applies pending migrations outside production)',
    load: server,
  },
  {
    name: 'migrate',
    description: 'apply pending database migrations',
    term: 'migrate [options]',
    load: server,
  },
  {
    name: 'api',
    description: 'manage the APIs (resource servers) tokens are issued for',
    load: async () => (await import('./commands/apis.ts')).registerApiCommands,
  },
  {
    name: 'client',
    description: 'manage OAuth clients',
    load: async () => (await import('./commands/clients.ts')).registerClientCommands,
  },
  {
    name: 'keys',
    description: 'manage signing keys and encryption at rest',
    load: async () => (await import('./commands/keys.ts')).registerKeyCommands,
  },
  {
    name: 'user',
    description: 'manage the people who sign in',
    load: async () => (await import('./commands/users.ts')).registerUserCommands,
  },
  {
    name: 'role',
    description: 'manage roles: named sets of API scopes, each scope of one API',
    load: async () => (await import('./commands/roles.ts')).registerRoleCommands,
  },
  {
    name: 'audit',
    description: 'verify, export and read the tamper-evident audit log',
    load: async () => (await import('./commands/audit.ts')).registerAuditCommands,
  },
  {
    name: 'consent',
    description: 'the consents people gave (payments, account access): list, show, revoke',
    load: async () => (await import('./commands/consents.ts')).registerConsentCommands,
  },
  {
    name: 'access-review',
    description:
      'every user with their roles, the scopes those grant, last sign-in, and granted scopes not used lately',
    term: 'access-review [options]',
    load: async () => (await import('./commands/accessReview.ts')).registerAccessReviewCommand,
  },
  {
    name: 'admin',
    description: 'set up the admin API',
    load: async () => (await import('./commands/admin.ts')).registerAdminCommands,
  },
  {
    name: 'issuer',
    description: 'show or change the issuer this database serves',
    load: async () => (await import('./commands/issuer.ts')).registerIssuerCommands,
  },
];

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** The top-level command named on the command line (`portcullis help X` names X too). */
function chosenName(argv: string[]): string | undefined {
  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/**
 * The program for `argv`: the command it names declared by its module, every other one listed
 * by name and description only (running it is another process, which loads its module).
 */
export async function buildProgram(argv: string[]): Promise<Command> {
  const defaults = new Help();
  const program = new Command('portcullis')
    .description(
      'Portcullis: an OAuth 2.0 / OpenID Connect authorization server for financial APIs',
    )
    .version(VERSION, '-V, --version', 'print the version of Portcullis')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({
      subcommandTerm: (cmd) =>
        COMMANDS.find((c) => c.name === cmd.name())?.term ?? defaults.subcommandTerm(cmd),
    });
  const chosen = COMMANDS.find((c) => c.name === chosenName(argv));
  let loaded = false;
  for (const entry of COMMANDS) {
    if (chosen?.load !== entry.load) program.command(entry.name).description(entry.description);
    else if (!loaded) {
      loaded = true;
      (await entry.load())(program);
    }
  }
  return program;
}
