// The client registry and the issuer this database serves, built together: moving the issuer
// (`portcullis issuer set`) rebuilds the registry over its transaction to move the admin API's
// clients and the account client with it (src/issuer/).
import type { Knex } from 'knex';
import { ensureAdminApi } from './admin/adminApi.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import { invalid } from './errors.ts';
import { ACCOUNT_CLIENT_ID, accountCallbackUrl } from './interactions/account.ts';
import { createIssuer } from './issuer/issuer.ts';
import type { Sealer } from './keys/envelope.ts';
import { type Catalogue, createCatalogue } from './oidc/catalogue.ts';
import { type ClientRegistry, createClientRegistry } from './oidc/clients.ts';

/**
 * The account page's first-party client, its redirect URI under the served issuer. It is a public
 * client, which FAPI 2.0 forbids: under FAPI_PROFILE=2.0 it does not exist (nor the account page).
 */
async function ensureAccountClient(
  clients: ClientRegistry,
  issuer: string,
  config: Config,
): Promise<void> {
  if (config.fapiProfile) {
    if (await clients.get(ACCOUNT_CLIENT_ID)) await clients.delete(ACCOUNT_CLIENT_ID);
    return;
  }
  return clients.ensureSystemClient(ACCOUNT_CLIENT_ID, {
    name: 'Your Portcullis account',
    grantTypes: ['authorization_code'],
    redirectUris: [accountCallbackUrl(issuer)],
    authMethod: 'none',
    apiAccess: {},
    firstParty: true,
  });
}

/** Whether a client authenticates with a certificate or has its tokens bound to one (RFC 8705). */
const needsClientCertificates = (metadata: Record<string, unknown>) =>
  metadata.tls_client_certificate_bound_access_tokens === true ||
  metadata.token_endpoint_auth_method === 'tls_client_auth' ||
  metadata.token_endpoint_auth_method === 'self_signed_tls_client_auth';

export async function createClientsAndIssuer(parts: {
  config: Config;
  knex: Knex;
  sealer: Sealer;
  clock: Clock;
  catalogue: Catalogue;
  grants: { revokeAllOfClient(clientId: string): Promise<unknown> };
  /** oidc-provider's own check of client metadata (throws its OAuth error when invalid). */
  validateMetadata: (metadata: unknown) => Promise<unknown>;
}) {
  const { config, knex, sealer, clock, catalogue, grants } = parts;
  // Without a source of client certificates oidc-provider's mTLS feature is off (src/app.ts).
  const mtlsServed = Boolean(config.tls.server || config.tls.certificateHeader);
  // Over the pool, or over a transaction when the issuer moves.
  const clientRegistryOver = (over: Knex, overCatalogue: Catalogue) =>
    createClientRegistry({
      knex: over,
      sealer,
      clock,
      catalogue: overCatalogue,
      cacheSeconds: config.cacheSeconds,
      idTokenAlg: config.keys.alg,
      ringAlgs: config.keys.algs,
      serverProfile: config.fapiProfile,
      validateMetadata: async (metadata) => {
        if (!mtlsServed && needsClientCertificates(metadata))
          throw invalid(
            'certificate authentication and certificate-bound tokens need mutual TLS: set TLS_CERT_FILE and TLS_KEY_FILE, or MTLS_CERTIFICATE_HEADER behind a proxy',
            'authMethod',
          );
        try {
          await parts.validateMetadata(metadata);
        } catch (err) {
          const e = err as { error_description?: string; message?: string };
          throw invalid(e.error_description ?? e.message ?? 'invalid client metadata');
        }
      },
      // A deleted client's tokens stop working (CLI, admin API and RFC 7592 deletion alike).
      revokeIssued: (clientId) => grants.revokeAllOfClient(clientId),
    });
  const clients = clientRegistryOver(knex, catalogue);

  // The issuer this database serves (recorded on first use): what the admin API and the
  // account client derive from. Only `portcullis issuer set` changes it.
  const issuer = createIssuer({
    knex,
    moveDerivedState: async (trx, to) => {
      const overCatalogue = createCatalogue({ knex: trx, clock, cacheSeconds: 0 });
      const overClients = clientRegistryOver(trx, overCatalogue);
      const admin = await ensureAdminApi(
        { catalogue: overCatalogue, clients: overClients },
        { issuer: to, accessTokenTtl: config.admin.tokenTtlSeconds },
      );
      await ensureAccountClient(overClients, to, config);
      return { clientsMoved: admin.clientsMoved };
    },
  });
  const servedIssuer = await issuer.served(config.issuer);
  return {
    clients,
    issuer,
    servedIssuer,
    /** The account page signs people in through the ordinary login flow as this client. */
    ensureAccountClient: () => ensureAccountClient(clients, servedIssuer, config),
  };
}
