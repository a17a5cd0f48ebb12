// `portcullis serve` and `portcullis migrate`. What each runs is imported when it runs: `serve`
// checks its port before the database modules are even loaded.
import type { Command } from 'commander';
import { print } from '../output.ts';

export function registerServerCommands(program: Command): void {
  program
    .command('serve')
    .description('run the authorization server (applies pending migrations outside production)')
    .action(async () => {
      const { runServer } = await import('../../main.ts');
      await runServer();
    });

  program
    .command('migrate')
    .description('apply pending database migrations')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { cliConfig, openDatabase } = await import('../context.ts');
      const { checkDatabase } = await import('../../db/connect.ts');
      const { migrateLatest } = await import('../../db/migrate.ts');
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
