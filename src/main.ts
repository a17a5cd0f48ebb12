// Process entry for `portcullis serve`: read config, build the app, listen, shut down cleanly.
import { ensureSchema, openDatabase } from './cli/context.ts';
import { loadConfig } from './config.ts';
import { checkDatabase } from './db/connect.ts';
import { createLogger } from './log.ts';

export async function runServer(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn(warning);

  const db = await openDatabase(config, { host: true });
  try {
    await checkDatabase(db);
    await ensureSchema(config, db, logger);
  } catch (err) {
    await db.close();
    throw err;
  }
  // Loaded after the checks above, so a bad setting fails with one line (see cli/context.ts).
  const { createApp } = await import('./app.ts');
  const { runDevQuickstart } = await import('./devQuickstart.ts');
  const app = await createApp(config, { logger, db });
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
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
