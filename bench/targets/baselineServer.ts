// The baseline server: bare oidc-provider with its own in-memory adapter, configured like
// Portcullis for what the scenarios exercise (same key, clients, algorithms, token formats and
// lifetimes) and nothing else. Imports no Portcullis code. Run as its own process.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Provider, { type Configuration, errors, type KoaContextWithOIDC } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

export interface BaselineConfig {
  issuer: string;
  port: number;
  jwks: Record<string, unknown>[];
  clients: Record<string, unknown>[];
  apis: { identifier: string; scope: string; format: 'jwt' | 'opaque'; ttl: number }[];
  /** Clients served under oidc-provider's FAPI 2.0 profile (as Portcullis serves them). */
  fapiClients: string[];
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
  const fapiClients = new Set(config.fapiClients ?? []);
  const algs = ['ES256', 'PS256', 'Ed25519', 'EdDSA'] as const;
  return {
    adapter: memoryAdapter() as never,
    clients: config.clients as never,
    // Every scope a client may ask for, as Portcullis lists them from its catalogue.
    scopes: [
      ...new Set([
        'openid',
        'offline_access',
        ...config.clients.flatMap((c) => String(c.scope ?? '').split(' ')),
      ]),
    ].filter(Boolean),
    jwks: { keys: config.jwks as never },
    clockTolerance: CLOCK_TOLERANCE,
    cookies: { keys: ['baseline-cookie-key-baseline-cookie-key'] },
    responseTypes: ['code'],
    clientAuthMethods: ['private_key_jwt', 'client_secret_basic', 'client_secret_post', 'none'],
    enabledJWA: {
      clientAuthSigningAlgValues: [...algs],
      idTokenSigningAlgValues: ['ES256'],
      dPoPSigningAlgValues: [...algs],
    },
    extraClientMetadata: { properties: ['api_access', 'first_party'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // As Portcullis: DPoP with a nonce secret (a nonce is offered, not required).
      dPoP: { enabled: true, nonceSecret: randomBytes(32) },
      fapi: {
        enabled: true,
        profile: (_ctx, client) => (client && fapiClients.has(client.clientId) ? '2.0' : undefined),
      },
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
      RefreshToken: (ctx) =>
        ctx?.oidc?.entities.RotatedRefreshToken?.remainingTTL ?? 14 * 24 * 3600,
    },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  };
}

interface RefreshSeed {
  count: number;
  clientId: string;
  scope: string;
  resource: string;
}

/**
 * Scenario 5's seed: the grant and refresh token an authorization-code sign-in leaves behind,
 * made with the provider's own models (the baseline has no login pages).
 */
async function seedRefreshTokens(provider: Provider, seed: RefreshSeed): Promise<string[]> {
  const client = await provider.Client.find(seed.clientId);
  if (!client) throw new Error(`unknown client ${seed.clientId}`);
  const apiScopes = seed.scope.split(' ').filter((s) => s !== 'openid');
  const tokens: string[] = [];
  for (let i = 0; i < seed.count; i++) {
    const accountId = randomUUID();
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope('openid');
    grant.addResourceScope(seed.resource, apiScopes.join(' '));
    const grantId = await grant.save();
    // Bound to a browser session like Portcullis' tokens (no offline_access): each refresh
    // checks that the session still holds the grant.
    const SessionModel = provider.Session as unknown as new (
      payload: object,
    ) => InstanceType<typeof provider.Session>;
    const session = new SessionModel({ jti: randomUUID(), accountId });
    session.loginTs = Math.floor(Date.now() / 1000);
    session.grantIdFor(client.clientId, grantId);
    await (session.save as (ttl: number) => Promise<string>)(14 * 24 * 3600);
    const token = new provider.RefreshToken({
      accountId,
      acr: 'urn:portcullis:ac:password',
      amr: ['pwd'],
      authTime: Math.floor(Date.now() / 1000),
      client,
      expiresWithSession: true,
      sessionUid: session.uid,
      grantId,
      gty: 'authorization_code',
      resource: seed.resource,
      rotations: 0,
      scope: seed.scope,
    } as never);
    tokens.push(await token.save());
  }
  return tokens;
}

function seedRoute(provider: Provider) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      seedRefreshTokens(provider, JSON.parse(body) as RefreshSeed).then(
        (tokens) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ tokens }));
        },
        (err: Error) => {
          res.writeHead(400, { 'content-type': 'text/plain' });
          res.end(`${err.message}: ${(err as { error_description?: string }).error_description}`);
        },
      );
    });
  };
}

const config = JSON.parse(process.env.BENCH_BASELINE_CONFIG ?? '{}') as BaselineConfig;
const provider = new Provider(config.issuer, configuration(config));
const callback = provider.callback();
const seed = seedRoute(provider);
const server = createServer((req, res) =>
  req.method === 'POST' && req.url === '/bench/refresh-tokens'
    ? seed(req, res)
    : callback(req, res),
);
server.keepAliveTimeout = 65_000;
server.listen(config.port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
