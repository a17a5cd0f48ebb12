// What every CLI command needs: the configuration, a logger on stderr, and the app (services
// over the database) opened for the command and closed after it.
import { userInfo } from 'node:os';
import type { App } from '../app.ts';
import type { AuditAction } from '../audit/kinds.ts';
import { type Config, loadConfig } from '../config.ts';
import { checkDatabase, connectDatabase, type Database } from '../db/connect.ts';
import { migrateLatest, pendingMigrations } from '../db/migrate.ts';
import { createLogger, type Logger } from '../log.ts';
import { CliError } from './output.ts';

export function cliConfig(): { config: Config; logger: Logger } {
  const config = loadConfig(process.env);
  const logger = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn', process.stderr);
  return { config, logger };
}

export function openDatabase(config: Config, { host = false } = {}): Promise<Database> {
  return connectDatabase({
    url: config.database.url,
    poolMax: config.database.poolMax,
    embeddedDir: config.database.dataDir,
    hostEmbedded: host,
  });
}

/** Outside production pending migrations are applied; in production they must be run first. */
export async function ensureSchema(config: Config, db: Database, logger: Logger): Promise<void> {
  if (config.env === 'production') {
    const pending = await pendingMigrations(db.knex);
    if (pending.length > 0) {
      throw new CliError(
        `the database schema is not current (${pending.length} pending migrations): run "portcullis migrate"`,
      );
    }
    return;
  }
  const applied = await migrateLatest(db.knex);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');
}

/**
 * Runs `fn` with the app open on the configured database. The app's modules start loading once
 * the configuration is good and load while the database opens (~1 s saved per command); a bad
 * setting or an unreachable database still gives one line (on Node 20, oidc-provider's runtime
 * notice may come before it).
 */
export async function withApp<T>(
  fn: (app: App) => Promise<T>,
  { warnOnOtherIssuer = true } = {},
): Promise<T> {
  const { config, logger } = cliConfig();
  const appModule = import('../app.ts');
  appModule.catch(() => {}); // a failure to load is thrown where the module is awaited
  const db = await openDatabase(config);
  let app: App | undefined;
  try {
    await checkDatabase(db);
    await ensureSchema(config, db, logger);
    // Another ISSUER than the database's: the command runs (nothing follows ISSUER any more).
    const { issuerMismatch, storedIssuer } = await import('../issuer/issuer.ts');
    const stored = await storedIssuer(db.knex);
    if (warnOnOtherIssuer && stored !== undefined && stored !== config.issuer)
      process.stderr.write(`portcullis: warning: ${issuerMismatch(config.issuer, stored)}\n`);
    const { createApp } = await appModule;
    app = await createApp(config, { logger, db });
    return await fn(app);
  } finally {
    // Logout tokens the command set off (user disable, set-password) finish before the pool goes.
    await app?.services.logoutOutbox.stop();
    await db.close();
  }
}

/** Who changes things from the command line, for the audit log. */
export function cliActor(): { type: 'admin'; id: string } {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {}
  return { type: 'admin', id: `cli:${user}` };
}

/** Records a change made from the command line. */
export function auditChange(
  app: App,
  action: AuditAction,
  target: { type: string; id: string } | undefined,
  details: Record<string, unknown> = {},
): Promise<void> {
  return app.record({
    actor: cliActor(),
    action,
    target,
    outcome: 'success',
    details: { ...details, via: 'cli' },
  });
}
