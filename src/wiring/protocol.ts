// Builds the protocol side of the composition root: the oidc-provider runtime and every part it
// is configured with (adapters, rich authorization, CIBA, device flow, token exchange, JWT tokens).
import type { RecordSecurityEvent } from '../audit/recorder.ts';
import { createCibaParts } from '../cibaParts.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import { canonicalHash } from '../consents/canonical.ts';
import { DETAIL_TYPES, validateAuthorizationDetails } from '../consents/detailTypes.ts';
import type { Database } from '../db/connect.ts';
import { clientCertificatesFor } from '../http/clientCertificate.ts';
import type { Metrics } from '../http/metrics.ts';
import type { Views } from '../http/views.ts';
import { devicePages } from '../interactions/device.ts';
import { logoutPages } from '../interactions/logout.ts';
import type { Sealer } from '../keys/envelope.ts';
import type { ClientLimiter } from '../limits/clientLimiter.ts';
import type { Logger } from '../log.ts';
import type { LogoutOutbox } from '../logout/outbox.ts';
import { createFindAccount, narrowToRoles } from '../oidc/accountClaims.ts';
import { createArtifactAdapter } from '../oidc/adapter.ts';
import { createAuditGate } from '../oidc/auditGate.ts';
import { createInteractionBridge } from '../oidc/bridge.ts';
import { keepBuiltClients } from '../oidc/builtClients.ts';
import { cibaDiscovery } from '../oidc/ciba.ts';
import { createClientAdapter } from '../oidc/clientAdapter.ts';
import { limitClients } from '../oidc/clientLimits.ts';
import type { ClientRegistry } from '../oidc/clients.ts';
import { buildConfiguration } from '../oidc/configuration.ts';
import { type DeviceFlowOptions, paceDevicePolls, pollPacer } from '../oidc/deviceFlow.ts';
import { attachProviderEvents } from '../oidc/events.ts';
import { createJwtIntrospection } from '../oidc/jwtIntrospection.ts';
import { deferBackchannelLogout } from '../oidc/logoutNotices.ts';
import { createOidcRuntime, type OidcRuntime } from '../oidc/provider.ts';
import type { Registration } from '../oidc/registration.ts';
import { createRevokedJwtStore } from '../oidc/revokedJwtStore.ts';
import { createRichAuthorization } from '../oidc/richAuthorization.ts';
import { noteSessionDevices } from '../oidc/sessionDevices.ts';
import { createTokenExchange } from '../oidc/tokenExchange/grant.ts';
import type { DomainServices } from '../services.ts';

export interface ProtocolDeps {
  config: Config;
  db: Database;
  sealer: Sealer;
  clock: Clock;
  logger: Logger;
  views: Views;
  metrics: Metrics;
  record: RecordSecurityEvent;
  limiter: ClientLimiter;
  logoutOutbox: LogoutOutbox;
  services: DomainServices;
  clients: ClientRegistry;
  registration: Registration;
  /** The provider's outgoing requests (CIBA pings). */
  fetch?: typeof fetch | undefined;
}

/** The runtime with the parts the web layer and the background jobs use too. */
export async function buildProtocol(deps: ProtocolDeps) {
  const { config, clock, logger, views, record, services } = deps;
  const { knex } = deps.db;
  const { catalogue, signingKeys, accounts, artifacts, grants, assurance, assurancePolicy } =
    services;
  // Parts built before the runtime reach it once it exists (they are only called later).
  let runtime: OidcRuntime | undefined;

  const ArtifactAdapter = createArtifactAdapter({ artifacts, clock });
  const clientAdapter = createClientAdapter(deps.clients, config.fapiProfile);
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
    sealer: deps.sealer,
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
        registration: {
          enabled: config.registration.enabled,
          policies: deps.registration.policies,
        },
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
        reusableGrant: grants.reusable,
      }),
    onBuild: (provider) => {
      keepBuiltClients(provider, clientAdapter.find);
      tokenExchange.register(provider);
      attachProviderEvents(provider, {
        logger,
        metrics: deps.metrics,
        record,
        allowanceOf: deps.registration.allowanceOf,
        hold: auditGate.hold,
      });
      limitClients(provider, deps.limiter);
      deferBackchannelLogout(provider, async (notices) => {
        await deps.logoutOutbox.add(notices);
        deps.logoutOutbox.nudge();
      });
      rar.narrowDiscovery(provider);
      paceDevicePolls(provider, deviceFlow);
      jwtAccessTokens.install(provider);
      noteSessionDevices(provider, {
        artifacts,
        clock,
        absoluteSeconds: config.sessions.absoluteSeconds,
        hold: auditGate.hold,
      });
      cibaDiscovery(provider);
    },
  });
  const oidc = runtime;
  const bridge = createInteractionBridge(oidc, assurancePolicy);
  return { oidc, bridge, certificates, ciba, device, logout, auditGate, revokedJwts };
}

export type Protocol = Awaited<ReturnType<typeof buildProtocol>>;
