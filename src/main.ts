// Process entry for `portcullis serve`: read config, build the app, listen, shut down cleanly.
import type { App } from './app.ts';
import { CliError } from './cli/output.ts';
import { assertPortFree } from './cli/portCheck.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './log.ts';

export async function runServer(): Promise<void> {
  const config = loadConfig(process.env);
  // Before anything else: a busy port is told in a second, not after the database and the app.
  await assertPortFree(config.port, config.host, 'PORT');
  if (config.metrics.port !== undefined)
    await assertPortFree(config.metrics.port, config.metrics.host, 'METRICS_PORT');
  // The app's modules (~1 s of loading) load while the database opens and migrates; a failure
  // to load is reported where they are needed, after the checks below.
  const appModules = Promise.all([import('./app.ts'), import('./devQuickstart.ts')]);
  appModules.catch(() => {});
  const { ensureSchema, openDatabase } = await import('./cli/context.ts');
  const { checkDatabase } = await import('./db/connect.ts');
  const { issuerFollowsStart, issuerMismatch, storedIssuer } = await import('./issuer/issuer.ts');
  const logger = createLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn(warning);

  const db = await openDatabase(config, { host: true });
  let stored: string | undefined;
  try {
    await checkDatabase(db);
    await ensureSchema(config, db, logger);
    stored = await storedIssuer(db.knex);
    if (stored !== undefined && stored !== config.issuer && !issuerFollowsStart(config))
      throw new CliError(issuerMismatch(config.issuer, stored));
  } catch (err) {
    await db.close();
    throw err;
  }
  const [{ createApp }, { runDevQuickstart }] = await appModules;
  const app = await createApp(config, { logger, db });
  if (stored !== undefined && stored !== config.issuer) await followIssuer(app, stored);
  // Demo data exists before the first request can arrive; the banner prints once listening.
  const banner = config.env !== 'production' ? await runDevQuickstart(app) : undefined;
  const port = await app.listen();
  logger.info(
    { issuer: config.issuer, host: config.host, port, database: db.describe },
    'portcullis is listening',
  );
  if (banner) process.stdout.write(banner);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing requests in flight');
    const force = setTimeout(() => {
      logger.error('shutdown took longer than 25s: exiting');
      process.exit(1);
    }, 25_000);
    force.unref();
    await app.close();
    await db.close();
    logger.info('stopped');
  };
  // `on`, not `once`: on Node < 22.15 a launcher (bin/memory.js) passes on the Ctrl-C that the
  // terminal also sent here, and that second signal must not cut the graceful stop short.
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** Development on the embedded database: the stored issuer follows ISSUER (see issuerFollowsStart). */
async function followIssuer(app: App, stored: string): Promise<void> {
  const change = await app.issuer.change(app.config.issuer);
  await app.record({
    actor: { type: 'system', id: 'development-start' },
    action: 'issuer.changed',
    target: { type: 'issuer', id: change.to },
    outcome: 'success',
    details: {
      via: 'development-start',
      from: stored,
      to: change.to,
      clientsMoved: change.clientsMoved,
    },
  });
  app.logger.warn(
    { from: stored, to: change.to, clientsMoved: change.clientsMoved },
    'development: the embedded database now serves this ISSUER (the admin API and its clients moved); in production only `portcullis issuer set` moves it',
  );
}
