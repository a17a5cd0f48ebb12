// The one composition root: builds every part from Config and wires them together. Nothing else
// creates services, so a test builds a complete, isolated server on its own database.
import type { Server } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import { type Clock, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import { connectDatabase, type Database } from './db/connect.ts';
import { pendingMigrations } from './db/migrate.ts';
import { invalid } from './errors.ts';
import { errorHandler } from './http/errors.ts';
import { healthz, readyz } from './http/health.ts';
import { createMetrics, metricsEndpoint } from './http/metrics.ts';
import { requestLog } from './http/requestLog.ts';
import { securityHeaders } from './http/securityHeaders.ts';
import { staticFiles } from './http/staticFiles.ts';
import { createViews } from './http/views.ts';
import { interactionRoutes } from './interactions/routes.ts';
import { createSealer } from './keys/envelope.ts';
import { createSigningKeys } from './keys/signingKeys.ts';
import type { Logger } from './log.ts';
import { createArtifactAdapter, sweepExpired } from './oidc/adapter.ts';
import { createInteractionBridge } from './oidc/bridge.ts';
import { createCatalogue } from './oidc/catalogue.ts';
import { createClientAdapter } from './oidc/clientAdapter.ts';
import { createClientRegistry } from './oidc/clients.ts';
import { buildConfiguration, maxSignedLifetime } from './oidc/configuration.ts';
import { attachProviderEvents } from './oidc/events.ts';
import { createOidcRuntime, type OidcRuntime } from './oidc/provider.ts';

export interface AppDeps {
  logger: Logger;
  clock?: Clock;
  /** An open database (tests pass their own); otherwise one is opened from config. */
  db?: Database;
}

export type App = Awaited<ReturnType<typeof createApp>>;

export async function createApp(config: Config, deps: AppDeps) {
  const { logger } = deps;
  const clock = deps.clock ?? systemClock;
  const db =
    deps.db ??
    (await connectDatabase({
      url: config.database.url,
      poolMax: config.database.poolMax,
      embeddedDir: config.database.dataDir,
    }));
  const { knex } = db;
  const sealer = createSealer(config.encryptionKeys);
  const views = createViews({ cache: config.env === 'production' });
  const metrics = createMetrics();

  const catalogue = createCatalogue({ knex, clock, cacheSeconds: config.cacheSeconds });
  const signingKeys = createSigningKeys({
    knex,
    sealer,
    clock,
    alg: config.keys.alg,
    activationDelaySeconds: config.keys.activationDelaySeconds,
    maxSignedTokenLifetime: async () => maxSignedLifetime(await catalogue.maxJwtAccessTokenTtl()),
  });

  // The provider validates client metadata; it exists once the runtime is built below.
  let runtime: OidcRuntime | undefined;
  const clients = createClientRegistry({
    knex,
    sealer,
    clock,
    catalogue,
    cacheSeconds: config.cacheSeconds,
    idTokenAlg: config.keys.alg,
    validateMetadata: async (metadata) => {
      try {
        await runtime!.provider.Client.validate(metadata as never);
      } catch (err) {
        const e = err as { error_description?: string; message?: string };
        throw invalid(e.error_description ?? e.message ?? 'invalid client metadata');
      }
    },
  });

  const adapterStore = {
    knex,
    clock,
    clockToleranceSeconds: config.clockToleranceSeconds,
    prepared: db.kind === 'postgres',
  };
  const ArtifactAdapter = createArtifactAdapter(adapterStore);
  const clientAdapter = createClientAdapter(clients);
  const adapter = (model: string) =>
    model === 'Client' ? clientAdapter : new ArtifactAdapter(model);

  await signingKeys.ensureActiveKey();
  const ring = await signingKeys.loadRing();
  if (!ring) throw new Error('no signing key is active');

  runtime = createOidcRuntime({
    issuer: config.issuer,
    trustProxy: config.trustProxy,
    logger,
    ring,
    configure: (keyRing) =>
      buildConfiguration({
        config,
        ring: keyRing,
        adapter,
        views,
        resources: { catalogue, alg: config.keys.alg },
        findAccount: async () => undefined,
      }),
    onBuild: (provider) => attachProviderEvents(provider, { logger, metrics }),
  });
  const oidc = runtime;
  const bridge = createInteractionBridge(oidc);

  let migrationsCurrent = false;
  const readiness = readyz([
    {
      name: 'database',
      check: async () => {
        await knex.raw('select 1');
        return undefined;
      },
    },
    {
      name: 'migrations',
      check: async () => {
        if (migrationsCurrent) return undefined;
        const pending = await pendingMigrations(knex);
        migrationsCurrent = pending.length === 0;
        return migrationsCurrent ? undefined : `${pending.length} pending`;
      },
    },
    {
      name: 'signing_key',
      check: async () => {
        const active = oidc.ring.jwks[0];
        return active ? undefined : 'no active signing key';
      },
    },
  ]);

  const koa = new Koa({ proxy: config.trustProxy });
  koa.use(requestLog(logger, metrics));
  koa.use(securityHeaders({ https: config.issuer.startsWith('https:') }));
  koa.use(errorHandler(logger, views));
  koa.use(staticFiles());
  const ops = new Router();
  ops.get('/healthz', healthz);
  ops.get('/readyz', readiness);
  ops.get('/metrics', metricsEndpoint(metrics));
  koa.use(ops.routes());
  koa.use(interactionRoutes({ bridge }).routes());
  koa.use(oidc.middleware);

  // Background work: pick up key changes made by any instance, and sweep expired rows.
  const timers: NodeJS.Timeout[] = [];
  async function refreshKeys(): Promise<boolean> {
    await signingKeys.ensureActiveKey();
    const next = await signingKeys.loadRing();
    return next ? oidc.useRing(next) : false;
  }
  function every(seconds: number, name: string, task: () => Promise<unknown>) {
    if (seconds <= 0) return;
    let running = false;
    const timer = setInterval(async () => {
      if (running) return;
      running = true;
      try {
        await task();
      } catch (err) {
        logger.warn(
          { task: name, err: { name: (err as Error).name, message: (err as Error).message } },
          'background task failed',
        );
      } finally {
        running = false;
      }
    }, seconds * 1000);
    timer.unref();
    timers.push(timer);
  }

  let server: Server | undefined;
  return {
    config,
    koa,
    db,
    clock,
    logger,
    services: { sealer, catalogue, clients, signingKeys, metrics, views },
    oidc,
    bridge,
    refreshKeys,
    sweep: () => sweepExpired(adapterStore, config.sweep.batchSize),

    /** Starts background jobs and listens; resolves with the bound port. */
    async listen(port = config.port, host = config.host): Promise<number> {
      every(config.keys.refreshSeconds, 'keys', refreshKeys);
      every(config.sweep.intervalSeconds, 'sweep', () =>
        sweepExpired(adapterStore, config.sweep.batchSize),
      );
      server = koa.listen(port, host);
      server.keepAliveTimeout = 65_000;
      await new Promise<void>((resolve, reject) => {
        server!.once('listening', resolve);
        server!.once('error', reject);
      });
      const address = server.address();
      return typeof address === 'object' && address ? address.port : port;
    },

    /** Stops accepting, lets requests in flight finish, then closes the pool. */
    async close(): Promise<void> {
      for (const t of timers) clearInterval(t);
      if (server) {
        const closing = new Promise<void>((resolve) => server!.close(() => resolve()));
        server.closeIdleConnections();
        await closing;
      }
      if (!deps.db) await db.close();
    },
  };
}
