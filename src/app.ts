// The one composition root: builds every part from Config and wires them together. Nothing else
// creates services, so a test builds a complete, isolated server on its own database.
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ensureAdminApi } from './admin/adminApi.ts';
import { adminApi } from './admin/api.ts';
import { auditCoverageNote } from './audit/coverage.ts';
import { createAuditLog } from './audit/log.ts';
import { createSecurityRecorder } from './audit/recorder.ts';
import { createCibaParts } from './cibaParts.ts';
import { createClientsAndIssuer } from './clientsAndIssuer.ts';
import { type Clock, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import { canonicalHash } from './consents/canonical.ts';
import { DETAIL_TYPES, validateAuthorizationDetails } from './consents/detailTypes.ts';
import { connectDatabase, type Database } from './db/connect.ts';
import { DEMO_API } from './devQuickstart.ts';
import { clientCertificatesFor } from './http/clientCertificate.ts';
import { consentApi } from './http/consentApi.ts';
import { createListener } from './http/listener.ts';
import { createMetrics, createMetricsApp } from './http/metrics.ts';
import { postAsGet } from './http/postAsGet.ts';
import { createHttpApp, handleClientErrors, listening, stopListening } from './http/server.ts';
import { extraStaticFile } from './http/staticFiles.ts';
import { createViews } from './http/views.ts';
import { createCsrf } from './interactions/csrf.ts';
import { demoRoutes } from './interactions/demo.ts';
import { devicePages } from './interactions/device.ts';
import { logoutPages } from './interactions/logout.ts';
import { interactionRoutes } from './interactions/routes.ts';
import { createJobs, oneAtATime } from './jobs.ts';
import { type KeyChangeListener, listenForKeyChanges } from './keys/changeNotices.ts';
import { createSealer } from './keys/envelope.ts';
import { createClientLimiter } from './limits/clientLimiter.ts';
import { createRateLimitStore } from './limits/store.ts';
import { errorFacts, type Logger } from './log.ts';
import { createLogoutOutbox } from './logout/outbox.ts';
import { createLogoutStore } from './logout/store.ts';
import { createAccessTokenVerifier, opaqueTokens, ownApiTokenDeps } from './oidc/accessTokens.ts';
import { createFindAccount, narrowToRoles } from './oidc/accountClaims.ts';
import { createArtifactAdapter } from './oidc/adapter.ts';
import { createAuditGate } from './oidc/auditGate.ts';
import { createInteractionBridge } from './oidc/bridge.ts';
import { cibaDiscovery } from './oidc/ciba.ts';
import { createClientAdapter } from './oidc/clientAdapter.ts';
import { limitClients } from './oidc/clientLimits.ts';
import { buildConfiguration } from './oidc/configuration.ts';
import { type DeviceFlowOptions, paceDevicePolls, pollPacer } from './oidc/deviceFlow.ts';
import { withPublicScopes } from './oidc/discoveryTruth.ts';
import { attachProviderEvents } from './oidc/events.ts';
import { withFrontchannelLogout } from './oidc/frontchannelLogout.ts';
import { createJwtIntrospection } from './oidc/jwtIntrospection.ts';
import { deferBackchannelLogout, logoutTokenSigner } from './oidc/logoutNotices.ts';
import { MTLS_ALIASED_PATHS } from './oidc/mtls.ts';
import { createOidcRuntime, type OidcRuntime } from './oidc/provider.ts';
import { createRegistration } from './oidc/registration.ts';
import { createRevokedJwtStore } from './oidc/revokedJwtStore.ts';
import { createRichAuthorization } from './oidc/richAuthorization.ts';
import { createTokenExchange } from './oidc/tokenExchange/grant.ts';
import { readinessChecks } from './readiness.ts';
import { createDomainServices } from './services.ts';

// The package exports only its entry point, so the bundle is found next to it.
const WEBAUTHN_BROWSER_BUNDLE = join(
  dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')),
  '..',
  'dist',
  'bundle',
  'index.umd.min.js',
);

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
  const views = createViews({ cache: config.env === 'production' });
  const metrics = createMetrics();
  const jobs = createJobs(logger);
  const audit = createAuditLog({ knex, clock });

  // Every security event: the hash-chained audit log and one log line (src/audit/recorder.ts).
  const record = createSecurityRecorder({
    audit,
    logger,
    strict: config.env !== 'production',
    committed: auditCoverageNote(config.auditCoverageDir),
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
  const {
    catalogue,
    signingKeys,
    accounts,
    roles,
    authenticator,
    artifacts,
    grants,
    assurance,
    totp,
    webauthn,
    recoveryCodes,
    factors,
    progress,
    assurancePolicy,
    consents,
  } = services;

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

  // --- Protocol ------------------------------------------------------------------------------
  const ArtifactAdapter = createArtifactAdapter({ artifacts, clock });
  const clientAdapter = createClientAdapter(clients, config.fapiProfile);
  const adapter = (model: string) =>
    model === 'Client' ? clientAdapter : new ArtifactAdapter(model);

  await signingKeys.ensureActiveKey();
  const ring = await signingKeys.loadRing();
  if (!ring) throw new Error('no signing key is active');

  // Mutual TLS when client certificates can reach Portcullis: over its own TLS, or from a proxy.
  const { tls } = config;
  const certificates = clientCertificatesFor(tls, clock);

  // authorization_details (RFC 9396): the domain's schemas, the catalogue's types, the consents.
  const rar = createRichAuthorization({
    clock,
    detailTypes: DETAIL_TYPES,
    validate: validateAuthorizationDetails,
    canonicalHash,
    apiForDetailType: (type) => catalogue.apiForDetailType(type),
    consents: services.consents,
  });
  const findAccount = createFindAccount(accounts);
  // Backchannel authentication: approvals on the account page, notification mails (src/cibaParts.ts).
  const ciba = createCibaParts({
    config,
    knex,
    sealer,
    clock,
    logger,
    accounts,
    assurancePolicy,
    record,
    runtime: () => runtime!,
  });
  const logout = logoutPages(views);
  // Device flow (RFC 8628): its pages with their limit on wrong codes, and the pacing of polls.
  const device = devicePages({
    views,
    clock,
    throttle: services.throttle,
    limits: config.deviceFlow,
    record,
  });
  const deviceFlow: DeviceFlowOptions = {
    pages: device.pages,
    codeSeconds: config.deviceFlow.codeSeconds,
    pollIntervalSeconds: config.deviceFlow.pollIntervalSeconds,
    pollTooSoon: pollPacer(services.throttle, clock),
  };
  // Protocol responses wait for their audit events to be committed (503 when they cannot be).
  const auditGate = createAuditGate({ logger, views });
  // Token exchange (RFC 8693): a resource server calling another API on a person's behalf.
  const tokenExchange = createTokenExchange({
    issuer: config.issuer,
    clockToleranceSeconds: config.clockToleranceSeconds,
    ring: () => runtime!.ring,
    grantsOf: async (accountId, clientId) =>
      (await grants.list(accountId)).filter((g) => g.clientId === clientId).map((g) => g.resources),
    clock,
    catalogue,
    assurance,
    alg: config.keys.alg,
    fapiProfile: config.fapiProfile,
    roleScopesOf: async (accountId) => {
      const found = await accounts.withScopes(accountId);
      return found?.user.status === 'active' ? found.scopes : undefined;
    },
    // A JWT its client revoked at the revocation endpoint is no subject token either.
    isRevokedJti: (jti) => revokedJwts.isRevoked(jti),
    record,
  });
  // JWT access tokens at the introspection and revocation endpoints (RFC 7662, RFC 7009).
  const revokedJwts = createRevokedJwtStore({ knex, clock });
  const jwtAccessTokens = createJwtIntrospection({
    issuer: config.issuer,
    clockToleranceSeconds: config.clockToleranceSeconds,
    revoked: revokedJwts,
  });
  runtime = createOidcRuntime({
    issuer: config.issuer,
    logger,
    ring,
    configure: (keyRing) =>
      buildConfiguration({
        config,
        clock,
        ring: keyRing,
        adapter,
        views,
        resources: {
          catalogue,
          alg: config.keys.alg,
          // A person's token carries only scopes their roles grant, at the level they reached.
          narrowScopes: async (ctx, api, scopes) =>
            assurancePolicy.narrowToLevel(
              ctx,
              api,
              await narrowToRoles(accounts)(ctx, api, scopes),
            ),
          detailResources: rar.detailResources,
        },
        findAccount,
        mtls: certificates && { certificates, mtlsOrigin: tls.mtlsOrigin },
        logoutPages: logout,
        registration: { enabled: config.registration.enabled, policies: registration.policies },
        assurance: {
          acrValues: assurance.values,
          policy: assurancePolicy.policy,
          extraTokenClaims: assurancePolicy.extraTokenClaims,
        },
        rar,
        exchangeClaims: tokenExchange.tokenClaims,
        deviceFlow,
        jwtAccessTokens,
        ciba: ciba.configuration,
        fetch: deps.fetch,
      }),
    onBuild: (provider) => {
      tokenExchange.register(provider);
      attachProviderEvents(provider, {
        logger,
        metrics,
        record,
        allowanceOf: registration.allowanceOf,
        hold: auditGate.hold,
      });
      limitClients(provider, limiter);
      deferBackchannelLogout(provider, async (notices) => {
        await logoutOutbox.add(notices);
        logoutOutbox.nudge();
      });
      rar.narrowDiscovery(provider);
      paceDevicePolls(provider, deviceFlow);
      jwtAccessTokens.install(provider);
      cibaDiscovery(provider);
    },
  });
  const oidc = runtime;
  const bridge = createInteractionBridge(oidc, assurancePolicy);

  // The account page signs people in through the ordinary login flow as this client.
  try {
    await ensureAccountClient();
  } catch (err) {
    logger.warn(
      { err: errorFacts(err) },
      'the account page is unavailable: its client could not be registered',
    );
  }

  // Tokens at Portcullis' own APIs (admin, consents).
  const ownApiTokens = ownApiTokenDeps({ ...config, ring: () => oidc.ring, artifacts });

  // --- HTTP ----------------------------------------------------------------------------------
  const koa = createHttpApp({
    issuer: config.issuer,
    trustedProxies: config.trustedProxies,
    certificateHeader: tls.certificateHeader,
    mtlsAlias: tls.mtlsOrigin ? { origin: tls.mtlsOrigin, paths: MTLS_ALIASED_PATHS } : undefined,
    cookieKeys: config.cookieKeys,
    logger,
    metrics,
    // With METRICS_PORT, /metrics lives on its own listener only (see listen()).
    metricsToken: config.metrics.port === undefined ? config.metrics.token : undefined,
    views,
    publication: {
      jwksMaxAgeSeconds: config.keys.jwksMaxAgeSeconds,
      activationDelaySeconds: config.keys.activationDelaySeconds,
      refreshSeconds: config.keys.refreshSeconds,
    },
    readiness: readinessChecks({
      knex,
      issuer: config.issuer,
      storedIssuer: issuer.stored,
      hasSigningKey: () => Boolean(oidc.ring.jwks[0]),
    }),
    routers: [
      interactionRoutes({
        config,
        clock,
        logger,
        views,
        csrf: createCsrf(config.cookieKeys),
        bridge,
        accounts,
        authenticator,
        catalogue,
        grants,
        assurance,
        factors,
        totp,
        webauthn,
        paymentAssertion: services.paymentAssertion,
        consents,
        recoveryCodes,
        progress,
        record,
      }),
      device.router,
      ciba.routes({
        views,
        csrf: createCsrf(config.cookieKeys),
        bridge,
        totp,
        webauthn,
        factors,
        assurance,
        clock,
        logger,
        record,
      }),
      adminApi({
        ...ownApiTokens,
        logger,
        assurance,
        record,
        limiter,
        certificates,
        registrationEnabled: config.registration.enabled,
        services: {
          catalogue,
          clients,
          accounts,
          roles,
          factors,
          grants,
          audit,
          registration,
          consents,
        },
      }),
      consentApi({
        issuer: config.issuer,
        logger,
        verifier: createAccessTokenVerifier({
          ...ownApiTokens,
          findOpaque: opaqueTokens(() => oidc.provider),
        }),
        catalogue,
        clients,
        consents,
        record,
        limiter,
        certificates,
      }),
      ...(config.env === 'production'
        ? []
        : [
            demoRoutes({
              views,
              issuer: config.issuer,
              resource: DEMO_API,
              clientId: async () =>
                (await clients.list()).find((c) => c.createdBy === 'quickstart')?.clientId,
            }),
          ]),
    ],
    middleware: [
      // The WebAuthn browser library, served from here (no CDN) under the same CSP.
      extraStaticFile('/static/simplewebauthn-browser.js', WEBAUTHN_BROWSER_BUNDLE),
    ],
    protocol: auditGate.wrap(
      withFrontchannelLogout(
        withPublicScopes(postAsGet(oidc.middleware), () => catalogue.publicScopes()),
        logout.frontchannel,
      ),
    ),
  });

  // --- Background work -----------------------------------------------------------------------
  // From the poll and from change notices: never two at once, so an older read of the ring
  // cannot land after a newer one (and bring a revoked key back).
  const refreshKeys = oneAtATime(async (): Promise<boolean> => {
    await signingKeys.ensureActiveKey();
    const next = await signingKeys.loadRing();
    return next ? oidc.useRing(next) : false;
  });
  async function sweep(): Promise<number> {
    const expired = await artifacts.sweepExpired(config.sweep.batchSize);
    return (
      expired +
      (await authenticator.sweep()) +
      (await progress.sweep()) +
      (await limiter.sweep()) +
      (await services.consents.expireDue(config.sweep.batchSize)) +
      (await revokedJwts.sweep(config.sweep.batchSize, config.clockToleranceSeconds)) +
      (await ciba.sweep())
    );
  }

  let server: Server | undefined;
  let metricsServer: Server | undefined;
  let keyChanges: KeyChangeListener | undefined;
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
      jobs.every(config.keys.refreshSeconds, 'keys', refreshKeys);
      jobs.every(config.sweep.intervalSeconds, 'sweep', sweep);
      jobs.every(config.logout.pollSeconds, 'backchannel-logout', logoutOutbox.deliverDue);
      ciba.start(jobs.every);
      limiter.start();
      // Key-ring changes reach this instance at once (PostgreSQL only; the poll above stays).
      if (db.listenConnection) {
        keyChanges = listenForKeyChanges({
          connection: db.listenConnection,
          onChange: refreshKeys,
          logger,
        });
        await keyChanges.ready;
      }
      try {
        server = createListener(koa.callback(), tls, logger);
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
        jobs.stop();
        await Promise.all([
          limiter.stop(),
          stopListening(server),
          stopListening(metricsServer),
          keyChanges?.stop(),
        ]);
        throw err;
      }
      const address = server.address();
      return typeof address === 'object' && address ? address.port : port;
    },

    /** Stops accepting, lets requests in flight finish, then closes the pool. */
    async close(): Promise<void> {
      jobs.stop();
      await logoutOutbox.stop();
      await Promise.all([stopListening(server), stopListening(metricsServer), keyChanges?.stop()]);
      // After the last request: its counts reach the database before the pool closes.
      await limiter.stop();
      if (!deps.db) await db.close();
    },
  };
}
