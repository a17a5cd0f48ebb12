// The baseline server: bare oidc-provider with its own in-memory adapter, configured like
// Portcullis for what the scenarios exercise (same key, clients, algorithms, token formats and
// lifetimes) and nothing else. Imports no Portcullis code. Run as its own process.
import { createServer } from 'node:http';
import Provider, { type Configuration, errors, type KoaContextWithOIDC } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

export interface BaselineConfig {
  issuer: string;
  port: number;
  jwks: Record<string, unknown>[];
  clients: Record<string, unknown>[];
  apis: { identifier: string; scope: string; format: 'jwt' | 'opaque'; ttl: number }[];
}

const CLOCK_TOLERANCE = 15;

/**
 * oidc-provider's own MemoryAdapter and LRU, with the LRU's cap raised from its default 1000
 * entries: with 1000, the introspection pool and replay-detection entries evict each other and
 * the baseline would answer `active: false` (a cheaper, wrong answer) for most of the pool.
 */
function memoryAdapter() {
  const store = new LRU({ maxSize: 10_000_000 });
  return (model: string) => new MemoryAdapter(model, store, CLOCK_TOLERANCE);
}

function configuration(config: BaselineConfig): Configuration {
  const apis = new Map(config.apis.map((api) => [api.identifier, api]));
  const algs = ['ES256', 'PS256', 'Ed25519', 'EdDSA'] as const;
  return {
    adapter: memoryAdapter() as never,
    clients: config.clients as never,
    jwks: { keys: config.jwks as never },
    clockTolerance: CLOCK_TOLERANCE,
    cookies: { keys: ['baseline-cookie-key-baseline-cookie-key'] },
    responseTypes: ['code'],
    clientAuthMethods: ['private_key_jwt', 'client_secret_basic', 'client_secret_post', 'none'],
    enabledJWA: { clientAuthSigningAlgValues: [...algs], idTokenSigningAlgValues: ['ES256'] },
    extraClientMetadata: { properties: ['api_access', 'first_party'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: async (ctx: KoaContextWithOIDC, client, token) =>
          client.clientAuthMethod !== 'none' || token.clientId === ctx.oidc.client?.clientId,
      },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? undefined,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, identifier) => {
          const api = apis.get(identifier);
          if (!api) throw new errors.InvalidTarget(`unknown resource ${identifier}`);
          return {
            scope: api.scope,
            audience: api.identifier,
            accessTokenTTL: api.ttl,
            accessTokenFormat: api.format,
            ...(api.format === 'jwt' ? { jwt: { sign: { alg: 'ES256' } } } : {}),
          } as never;
        },
      },
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
    },
  };
}

const config = JSON.parse(process.env.BENCH_BASELINE_CONFIG ?? '{}') as BaselineConfig;
const provider = new Provider(config.issuer, configuration(config));
const server = createServer(provider.callback());
server.keepAliveTimeout = 65_000;
server.listen(config.port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
