// The domain services every part of the server shares (accounts, roles, second factors, the
// API catalogue, consents, signing keys, grants and the artefact store under them), built from
// Config over one database. Only app.ts calls it.
import type { Knex } from 'knex';
import { type Accounts, createAccounts } from './accounts/accounts.ts';
import { createAuthenticator } from './accounts/authenticate.ts';
import { createPasswordHasher } from './accounts/passwords.ts';
import { createRoles } from './accounts/roles.ts';
import { createAccountStore, userWithAccessAhead } from './accounts/store.ts';
import { createThrottleStore } from './accounts/throttleStore.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import { createConsents } from './consents/consents.ts';
import { createConsentStore } from './consents/store.ts';
import type { Sealer } from './keys/envelope.ts';
import { createSigningKeys } from './keys/signingKeys.ts';
import { errorFacts, type Logger } from './log.ts';
import type { LogoutOutbox } from './logout/outbox.ts';
import { createAssurance } from './mfa/assurance.ts';
import { createFactors } from './mfa/factors.ts';
import { createLoginProgress } from './mfa/loginProgress.ts';
import { createPaymentAssertion } from './mfa/paymentAssertion.ts';
import { createRecoveryCodes } from './mfa/recoveryCodes.ts';
import { createMfaStore, progressWithFactorsAhead } from './mfa/store.ts';
import { createTotp } from './mfa/totp.ts';
import { createWebAuthn } from './mfa/webauthn.ts';
import { createArtifactStore } from './oidc/artifactStore.ts';
import { createAssurancePolicy } from './oidc/assurancePolicy.ts';
import { createCatalogue } from './oidc/catalogue.ts';
import { maxSignedLifetime } from './oidc/configuration.ts';
import { createGrantRegistry, type GrantRegistry } from './oidc/grants.ts';
import { noticesOfSessions } from './oidc/logoutNotices.ts';

export interface ServiceDeps {
  config: Config;
  knex: Knex;
  /** Named prepared statements for hot lookups (real PostgreSQL only; see db/prepared.ts). */
  prepared: boolean;
  sealer: Sealer;
  clock: Clock;
  logger: Logger;
  /** Back-channel logout: sessions ended by a revocation are told to their relying parties. */
  logoutOutbox?: LogoutOutbox | undefined;
}

/**
 * Accounts whose password change ends every session, grant and token of the person: whoever
 * knew the old password may hold those (accounts/ knows nothing of oidc, so it is composed here).
 * The result carries how many were ended, for the caller's audit event. Disabling an account
 * ends its sessions (its relying parties are told: back-channel logout).
 */
function endingSessionsOnPasswordChange(accounts: Accounts, grants: GrantRegistry) {
  return {
    ...accounts,
    async setPassword(idOrEmail: string, password: string) {
      const user = await accounts.setPassword(idOrEmail, password);
      return { ...user, sessionsEnded: await grants.revokeAll(user.id, 'password_set') };
    },
    async disable(idOrEmail: string) {
      const user = await accounts.disable(idOrEmail);
      await grants.endSessions(user.id, 'disabled');
      return user;
    },
  };
}

export function createDomainServices({
  config,
  knex,
  prepared,
  sealer,
  clock,
  logger,
  logoutOutbox,
}: ServiceDeps) {
  const catalogue = createCatalogue({ knex, clock, cacheSeconds: config.cacheSeconds });
  const signingKeys = createSigningKeys({
    knex,
    sealer,
    clock,
    algs: config.keys.algs,
    activationDelaySeconds: config.keys.activationDelaySeconds,
    maxSignedTokenLifetime: async () => maxSignedLifetime(await catalogue.maxJwtAccessTokenTtl()),
  });
  const hasher = createPasswordHasher({
    params: config.passwords.argon2,
    pepper: config.passwords.pepper,
  });
  // The one owner of oidc_artifacts: the adapter, grants and registration all use this store.
  const artifacts = createArtifactStore({
    knex,
    clock,
    clockToleranceSeconds: config.clockToleranceSeconds,
    prepared,
    // The person and login progress a step, code or refresh token names ride in its find.
    reads: { account: userWithAccessAhead, progress: progressWithFactorsAhead },
  });
  const grants = createGrantRegistry({
    artifacts,
    endings: logoutOutbox && {
      ended: (reason) => (trx, sessions) =>
        logoutOutbox.add(noticesOfSessions(sessions, reason), trx),
      committed: () => logoutOutbox.nudge(),
    },
  });
  // Each module's store, built once and shared by the services of that module.
  const accountStore = createAccountStore(knex, {
    prepared,
    readAhead: artifacts.aheadOf('account'),
  });
  const throttle = createThrottleStore(knex);
  const mfaStore = createMfaStore(knex, { readAhead: artifacts.aheadOf('progress') });
  const accounts = endingSessionsOnPasswordChange(
    createAccounts({ store: accountStore, throttle, clock, hasher }),
    grants,
  );
  const roles = createRoles({
    store: accountStore,
    clock,
    apis: async () =>
      (await catalogue.list()).map((api) => ({
        id: api.id,
        identifier: api.identifier,
        scopes: api.scopes.map((s) => s.name),
      })),
  });
  const authenticator = createAuthenticator({
    store: accountStore,
    throttle,
    clock,
    hasher,
    policy: config.signIn,
    background: (task) => {
      task.catch((err: Error) =>
        logger.warn({ err: errorFacts(err) }, 'password hash upgrade failed'),
      );
    },
  });
  const assurance = createAssurance(config.mfa.acr);
  const totp = createTotp({ store: mfaStore, sealer, clock, issuer: config.mfa.rpName });
  const webauthn = createWebAuthn({
    store: mfaStore,
    clock,
    issuer: config.issuer,
    rpName: config.mfa.rpName,
  });
  const paymentAssertion = createPaymentAssertion({
    store: mfaStore,
    clock,
    issuer: config.issuer,
  });
  const recoveryCodes = createRecoveryCodes({ store: mfaStore, clock });
  const factors = createFactors({
    store: mfaStore,
    totp,
    webauthn,
    recoveryCodes,
    requireMfa: config.mfa.required,
  });
  const progress = createLoginProgress({ store: mfaStore, clock });
  const assurancePolicy = createAssurancePolicy({
    assurance,
    catalogue,
    requireMfa: config.mfa.required,
  });

  // Consents of rich authorization requests (payments, account access) and their lifecycle.
  const consents = createConsents({
    store: createConsentStore(knex),
    clock,
    paymentTtlSeconds: config.consents.paymentTtlSeconds,
  });

  return {
    catalogue,
    consents,
    signingKeys,
    hasher,
    accounts,
    roles,
    authenticator,
    artifacts,
    grants,
    assurance,
    totp,
    webauthn,
    paymentAssertion,
    recoveryCodes,
    factors,
    progress,
    assurancePolicy,
    // Fixed-window counters: the device page's limit on wrong codes, device polling (RFC 8628).
    throttle,
  };
}

export type DomainServices = ReturnType<typeof createDomainServices>;
