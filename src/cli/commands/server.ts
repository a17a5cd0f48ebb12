// `portcullis serve` and `portcullis migrate`.
import type { Command } from 'commander';
import { checkDatabase } from '../../db/connect.ts';
import { migrateLatest } from '../../db/migrate.ts';
import { runServer } from '../../main.ts';
import { cliConfig, openDatabase } from '../context.ts';
import { print } from '../output.ts';

export function registerServerCommands(program: Command): void {
  program
    .command('serve')
    .description('run the authorization server (applies pending migrations outside production)')
    .action(async () => {
      await runServer();
    });

  program
    .command('migrate')
    .description('apply pending database migrations')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { config } = cliConfig();
      const db = await openDatabase(config);
      try {
        await checkDatabase(db);
        const applied = await migrateLatest(db.knex);
        print(opts.json, { applied }, () => {
          process.stdout.write(
            applied.length
              ? `applied ${applied.length}: ${applied.join(', ')}\n`
              : 'the schema is current\n',
          );
        });
      } finally {
        await db.close();
      }
    });
}
