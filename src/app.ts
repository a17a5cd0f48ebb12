// The one composition root: builds every part from Config and wires them together. Nothing else
// creates services, so a test builds a complete, isolated server on its own database.
import type { Server } from 'node:http';
import { ensureAdminApi } from './admin/adminApi.ts';
import { auditCoverageNote } from './audit/coverage.ts';
import { createAuditLog } from './audit/log.ts';
import { createSecurityRecorder } from './audit/recorder.ts';
import { createClientsAndIssuer } from './clientsAndIssuer.ts';
import { type Clock, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import { connectDatabase, type Database } from './db/connect.ts';
import { createListener } from './http/listener.ts';
import { createMetrics, createMetricsApp } from './http/metrics.ts';
import { handleClientErrors, listening, stopListening } from './http/server.ts';
import { createViews } from './http/views.ts';
import { createI18n } from './i18n/i18n.ts';
import { createSealer } from './keys/envelope.ts';
import { createClientLimiter } from './limits/clientLimiter.ts';
import { createRateLimitStore } from './limits/store.ts';
import { errorFacts, type Logger } from './log.ts';
import { createLogoutOutbox } from './logout/outbox.ts';
import { createLogoutStore } from './logout/store.ts';
import { logoutTokenSigner } from './oidc/logoutNotices.ts';
import type { OidcRuntime } from './oidc/provider.ts';
import { createRegistration } from './oidc/registration.ts';
import type { RequestWrites } from './oidc/requestWrites.ts';
import { createDomainServices } from './services.ts';
import { createBackgroundWork } from './wiring/background.ts';
import { buildProtocol } from './wiring/protocol.ts';
import { buildWeb } from './wiring/web.ts';

export interface AppDeps {
  logger: Logger;
  clock?: Clock;
  /** An open database (tests pass their own); otherwise one is opened from config. */
  db?: Database;
  /** The provider's outgoing requests (CIBA pings); tests pass one trusting their CA. */
  fetch?: typeof fetch;
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
  const i18n = createI18n({ defaultLocale: config.defaultLocale, logger });
  const views = createViews({
    cache: config.env === 'production',
    i18n,
    theme: {
      productName: config.theme.productName,
      logo: config.theme.logo.path,
      favicon: config.theme.favicon.path,
    },
  });
  const metrics = createMetrics(db.counter);
  const audit = createAuditLog({ knex, clock });

  // Every security event: the hash-chained audit log and one log line (src/audit/recorder.ts).
  // Inside a request that holds its writes back, events go in its one statement; the artefact
  // store that holds them is built below.
  let heldWrites: RequestWrites | undefined;
  const record = createSecurityRecorder({
    audit,
    logger,
    strict: config.env !== 'production',
    committed: auditCoverageNote(config.auditCoverageDir),
    held: () => heldWrites?.current(),
  });

  // Per-client request limits, counted here and shared through the database (src/limits/).
  const limiter = createClientLimiter({
    store: createRateLimitStore(knex),
    clock,
    logger,
    defaultLimit: config.clientRateLimit.default,
    syncMs: config.clientRateLimit.syncMs,
    onFirstRefusal: (refused) =>
      record({
        actor: { type: 'client', id: refused.clientId },
        action: 'client.rate_limited',
        target: { type: 'client', id: refused.clientId },
        outcome: 'failure',
        sourceIp: refused.sourceIp,
        userAgent: refused.userAgent,
        details: { endpoint: refused.endpoint, limit: refused.limitText },
      }),
  });

  // Back-channel logout: notices written when sessions end, delivered by any instance's worker
  // (src/logout/outbox.ts) with logout tokens the provider signs (src/oidc/logoutNotices.ts).
  let runtime: OidcRuntime | undefined;
  const logoutOutbox = createLogoutOutbox({
    store: createLogoutStore(knex),
    clock,
    logger,
    record,
    settings: { ...config.logout, httpsOnly: config.env === 'production' },
    sign: logoutTokenSigner(() => runtime!.provider),
  });

  // --- Domain services -----------------------------------------------------------------------
  const services = createDomainServices({
    config,
    knex,
    prepared: db.kind === 'postgres',
    sealer,
    clock,
    logger,
    logoutOutbox,
  });
  const { catalogue, artifacts, grants } = services;
  heldWrites = artifacts.requestWrites;

  // The provider validates client metadata; it exists once the runtime is built below.
  const { clients, issuer, servedIssuer, ensureAccountClient } = await createClientsAndIssuer({
    config,
    knex,
    sealer,
    clock,
    catalogue,
    grants,
    validateMetadata: (metadata) => runtime!.provider.Client.validate(metadata as never),
  });

  // The admin API is an API of the catalogue ({ISSUER}/admin/v1, level-2 scopes).
  try {
    await ensureAdminApi(
      { catalogue, clients },
      { issuer: servedIssuer, accessTokenTtl: config.admin.tokenTtlSeconds },
    );
  } catch (err) {
    logger.error(
      { err: errorFacts(err) },
      'the admin API is unavailable: it could not be added to the API catalogue',
    );
  }
  const registration = createRegistration({
    artifacts,
    clock,
    catalogue,
    idTokenAlg: config.keys.alg,
    ringAlgs: config.keys.algs,
    serverProfile: config.fapiProfile,
    provider: () => runtime!.provider,
  });

  // --- Protocol: the oidc-provider runtime and its parts (src/wiring/protocol.ts) -------------
  const protocol = await buildProtocol({
    config,
    db,
    sealer,
    clock,
    logger,
    views,
    metrics,
    record,
    limiter,
    logoutOutbox,
    services,
    clients,
    registration,
    fetch: deps.fetch,
  });
  runtime = protocol.oidc;
  const { oidc, bridge, ciba } = protocol;

  // The account page signs people in through the ordinary login flow as this client.
  try {
    await ensureAccountClient();
  } catch (err) {
    logger.warn(
      { err: errorFacts(err) },
      'the account page is unavailable: its client could not be registered',
    );
  }

  // --- HTTP: routers and pages around the protocol (src/wiring/web.ts) -------------------------
  const koa = buildWeb({
    config,
    db,
    clock,
    logger,
    views,
    metrics,
    record,
    limiter,
    audit,
    services,
    clients,
    issuer,
    registration,
    protocol,
  });

  // --- Background work: key refresh, sweeps, deliveries (src/wiring/background.ts) -------------
  const background = createBackgroundWork({
    config,
    db,
    logger,
    services,
    limiter,
    logoutOutbox,
    protocol,
    clients,
  });
  const { refreshKeys, sweep } = background;

  let server: Server | undefined;
  let metricsServer: Server | undefined;
  return {
    config,
    koa,
    db,
    clock,
    logger,
    services: {
      ...services,
      sealer,
      clients,
      metrics,
      views,
      audit,
      registration,
      limiter,
      logoutOutbox,
      ciba,
    },
    issuer,
    record,
    oidc,
    bridge,
    refreshKeys,
    sweep,

    /** Starts background jobs and listens; resolves with the bound port. */
    async listen(port = config.port, host = config.host): Promise<number> {
      await background.start();
      try {
        server = createListener(koa.callback(), config.tls, logger);
        server.listen(port, host);
        handleClientErrors(server, logger);
        server.keepAliveTimeout = 65_000;
        await listening(server);
        if (config.metrics.port !== undefined) {
          const metricsApp = createMetricsApp(metrics, config.metrics.token, logger);
          metricsServer = metricsApp.listen(config.metrics.port, config.metrics.host);
          await listening(metricsServer);
        }
      } catch (err) {
        // Nothing half-started stays behind (a listener would keep the process alive).
        background.stopJobs();
        await Promise.all([
          limiter.stop(),
          stopListening(server),
          stopListening(metricsServer),
          background.stopKeyChanges(),
        ]);
        throw err;
      }
      const address = server.address();
      return typeof address === 'object' && address ? address.port : port;
    },

    /** Stops accepting, lets requests in flight finish, then closes the pool. */
    async close(): Promise<void> {
      background.stopJobs();
      await logoutOutbox.stop();
      await Promise.all([
        stopListening(server),
        stopListening(metricsServer),
        background.stopKeyChanges(),
      ]);
      // After the last request: its counts reach the database before the pool closes.
      await limiter.stop();
      if (!deps.db) await db.close();
    },
  };
}
