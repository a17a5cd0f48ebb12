// Builds the HTTP side of the composition root: the Koa app with its routers (login pages, device
// and CIBA pages, admin and consent APIs, the demo) around the protocol's middleware.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type Koa from 'koa';
import compose from 'koa-compose';
import { adminApi } from '../admin/api.ts';
import type { AuditLog } from '../audit/log.ts';
import type { RecordSecurityEvent } from '../audit/recorder.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/connect.ts';
import { DEMO_API } from '../devQuickstart.ts';
import { consentApi } from '../http/consentApi.ts';
import type { Metrics } from '../http/metrics.ts';
import { postAsGet } from '../http/postAsGet.ts';
import { createHttpApp } from '../http/server.ts';
import { extraStaticFile, themeFiles } from '../http/staticFiles.ts';
import type { Views } from '../http/views.ts';
import { createCsrf } from '../interactions/csrf.ts';
import { demoRoutes } from '../interactions/demo.ts';
import { interactionRoutes } from '../interactions/routes.ts';
import type { Issuer } from '../issuer/issuer.ts';
import type { ClientLimiter } from '../limits/clientLimiter.ts';
import type { Logger } from '../log.ts';
import { createAccessTokenVerifier, opaqueTokens, ownApiTokenDeps } from '../oidc/accessTokens.ts';
import { hashId } from '../oidc/adapter.ts';
import type { ClientRegistry } from '../oidc/clients.ts';
import { withPublicScopes } from '../oidc/discoveryTruth.ts';
import { withFrontchannelLogout } from '../oidc/frontchannelLogout.ts';
import { MTLS_ALIASED_PATHS } from '../oidc/mtls.ts';
import { readAheadLoginStep } from '../oidc/readAhead.ts';
import type { Registration } from '../oidc/registration.ts';
import { failThroughGate, failToErrorPages, holdArtifactWrites } from '../oidc/writeBehind.ts';
import { readinessChecks } from '../readiness.ts';
import type { DomainServices } from '../services.ts';
import type { Protocol } from './protocol.ts';

// The package exports only its entry point, so the bundle is found next to it.
const WEBAUTHN_BROWSER_BUNDLE = join(
  dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')),
  '..',
  'dist',
  'bundle',
  'index.umd.min.js',
);

export interface WebDeps {
  config: Config;
  db: Database;
  clock: Clock;
  logger: Logger;
  views: Views;
  metrics: Metrics;
  record: RecordSecurityEvent;
  limiter: ClientLimiter;
  audit: AuditLog;
  services: DomainServices;
  clients: ClientRegistry;
  issuer: Issuer;
  registration: Registration;
  protocol: Protocol;
}

export function buildWeb(deps: WebDeps) {
  const { config, clock, logger, views, record, limiter, clients } = deps;
  const { oidc, bridge, certificates, ciba, device, logout, auditGate } = deps.protocol;
  const {
    catalogue,
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
    consents,
  } = deps.services;
  const { tls } = config;

  // A login step's Interaction, Session and Grants in one statement, ahead of its finds.
  const readAhead = readAheadLoginStep({
    readAhead: (asks) => artifacts.readAhead(asks),
    keyOf: hashId,
    sessionCookie: () => oidc.provider.cookieName('session'),
  });

  // Tokens at Portcullis' own APIs (admin, consents).
  const ownApiTokens = ownApiTokenDeps({ ...config, ring: () => oidc.ring, artifacts });

  return createHttpApp({
    issuer: config.issuer,
    trustedProxies: config.trustedProxies,
    certificateHeader: tls.certificateHeader,
    mtlsAlias: tls.mtlsOrigin ? { origin: tls.mtlsOrigin, paths: MTLS_ALIASED_PATHS } : undefined,
    // The endpoints clients call most (token, PAR, introspection, revocation, userinfo).
    protocolPaths: MTLS_ALIASED_PATHS,
    cookieKeys: config.cookieKeys,
    logger,
    metrics: deps.metrics,
    // With METRICS_PORT, /metrics lives on its own listener only (see listen()).
    metricsToken: config.metrics.port === undefined ? config.metrics.token : undefined,
    views,
    publication: {
      jwksMaxAgeSeconds: config.keys.jwksMaxAgeSeconds,
      activationDelaySeconds: config.keys.activationDelaySeconds,
      refreshSeconds: config.keys.refreshSeconds,
    },
    readiness: readinessChecks({
      knex: deps.db.knex,
      issuer: config.issuer,
      storedIssuer: deps.issuer.stored,
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
        paymentAssertion: deps.services.paymentAssertion,
        consents,
        recoveryCodes,
        progress,
        record,
        activity: (userId) => deps.audit.activityOf(userId),
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
          audit: deps.audit,
          registration: deps.registration,
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
      // The steps of a login hold their artefact writes back to one statement per request.
      interactionWrites(holdArtifactWrites(artifacts.requestWrites, failToErrorPages, readAhead)),
      // The WebAuthn browser library, served from here (no CDN) under the same CSP.
      extraStaticFile('/static/simplewebauthn-browser.js', WEBAUTHN_BROWSER_BUNDLE),
      // The theme (THEME_DIR or the default): its CSS colours, logo and favicon.
      themeFiles(config.theme),
    ],
    protocol: auditGate.wrap(
      withFrontchannelLogout(
        withPublicScopes(
          postAsGet(
            // The provider's artefact writes of one request: one statement, before the response.
            holdArtifactWrites(
              artifacts.requestWrites,
              failThroughGate(auditGate.hold),
              compose([readAhead, oidc.middleware]),
            ),
          ),
          () => catalogue.publicScopes(),
        ),
        logout.frontchannel,
      ),
    ),
  });
}

/** `hold` on the steps of a login (/interaction/...) only; other requests pass by. */
function interactionWrites(hold: Koa.Middleware): Koa.Middleware {
  return (ctx, next) => (ctx.path.startsWith('/interaction/') ? hold(ctx, next) : next());
}
