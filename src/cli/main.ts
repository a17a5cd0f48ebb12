// The `portcullis` command line: every command has --help, and --json where it prints data.
import { Command } from 'commander';
import { registerAccessReviewCommand } from './commands/accessReview.ts';
import { registerAdminCommands } from './commands/admin.ts';
import { registerApiCommands } from './commands/apis.ts';
import { registerAuditCommands } from './commands/audit.ts';
import { registerClientCommands } from './commands/clients.ts';
import { registerConsentCommands } from './commands/consents.ts';
import { registerIssuerCommands } from './commands/issuer.ts';
import { registerKeyCommands } from './commands/keys.ts';
import { registerRoleCommands } from './commands/roles.ts';
import { registerServerCommands } from './commands/server.ts';
import { registerUserCommands } from './commands/users.ts';
import { describeError } from './errors.ts';

const program = new Command('portcullis')
  .description('Portcullis: an OAuth 2.0 / OpenID Connect authorization server for financial APIs')
  .showHelpAfterError('(run with --help for usage)');

registerServerCommands(program);
registerApiCommands(program);
registerClientCommands(program);
registerKeyCommands(program);
registerUserCommands(program);
registerRoleCommands(program);
registerAuditCommands(program);
registerConsentCommands(program);
registerAccessReviewCommand(program);
registerAdminCommands(program);
registerIssuerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`portcullis: ${describeError(err)}\n`);
  process.exitCode = 1;
}
