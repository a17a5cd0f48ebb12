// Every URL Portcullis publishes derives from ISSUER (finding 4): with a wrong Host or
// X-Forwarded-Host, discovery, JWKS, redirects, pages, registration_client_uri and `iss` still
// name ISSUER's origin; a trusted proxy still decides the client address and the scheme.
// Discovery and JWKS carry a Cache-Control bounded by key rotation.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { publicationMaxAge } from '../../src/http/publicationCache.ts';
import { createLogger } from '../../src/log.ts';
import { adminApi } from '../admin/helpers.ts';
import { createTestDatabase } from '../support/db.ts';
import { BANK_API, type Bank, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { freePort, startTestServer, type TestServer, testSecrets } from '../support/server.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP/1.1 request (fetch cannot set Host), with `target` sent exactly as given. */
function raw(
  server: TestServer,
  target: string,
  headers: Record<string, string>,
  body?: { type: string; data: string },
): Promise<Reply> {
  const { port } = new URL(server.issuer);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: Number(port),
        path: target,
        method: body ? 'POST' : 'GET',
        headers: {
          ...headers,
          ...(body
            ? { 'content-type': body.type, 'content-length': String(Buffer.byteLength(body.data)) }
            : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
        );
      },
    );
    req.on('error', reject);
    req.end(body?.data);
  });
}

/** Wrong hosts a caller may send: Host alone, X-Forwarded-Host alone, both. */
const WRONG_HOSTS: Record<string, string>[] = [
  { host: 'evil.example' },
  { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
  { host: 'evil.example:8443', 'x-forwarded-host': 'evil.example' },
];

/** Every string in a JSON document that looks like a URL. */
function urlsIn(value: unknown): string[] {
  if (typeof value === 'string') return /^[a-z]+:\/\//i.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(urlsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(urlsIn);
  return [];
}

function assertPublishedUnder(reply: Reply, what: string): void {
  assert.doesNotMatch(reply.body, /evil/, what);
  for (const name of ['location', 'content-location', 'link']) {
    const value = reply.headers[name];
    if (typeof value === 'string') assert.doesNotMatch(value, /evil/, `${what}: ${name}`);
  }
}

for (const trustedProxies of [undefined, '1']) {
  describe(`published URLs follow ISSUER (TRUSTED_PROXIES=${trustedProxies ?? 'unset'})`, () => {
    let server: TestServer;
    let bank: Bank;
    before(async () => {
      server = await startTestServer({
        env: trustedProxies ? { TRUSTED_PROXIES: trustedProxies } : {},
      });
      bank = await seedBank(server);
    });
    after(() => server.close());

    test('discovery names only ISSUER, whatever Host and X-Forwarded-Host say', async () => {
      for (const headers of [{}, ...WRONG_HOSTS]) {
        const reply = await raw(server, '/.well-known/openid-configuration', headers);
        assert.equal(reply.status, 200);
        const doc = JSON.parse(reply.body) as Record<string, unknown>;
        assert.equal(doc.issuer, server.issuer);
        assert.equal(doc.jwks_uri, `${server.issuer}/jwks`);
        assert.equal(doc.token_endpoint, `${server.issuer}/token`);
        const urls = urlsIn(doc).filter((u) => !u.startsWith('urn:'));
        assert.ok(urls.length > 5);
        for (const url of urls)
          assert.ok(url.startsWith(`${server.issuer}/`) || url === server.issuer, url);
      }
    });

    test('a request target in absolute form does not choose the origin either', async () => {
      const reply = await raw(server, 'http://evil.example/.well-known/openid-configuration', {
        host: 'evil.example',
      });
      assert.equal(reply.status, 200);
      const doc = JSON.parse(reply.body) as { jwks_uri: string };
      assert.equal(doc.jwks_uri, `${server.issuer}/jwks`);
    });

    test('the authorization flow: redirects, the login page and `iss` stay on ISSUER', async () => {
      const query = new URLSearchParams({
        client_id: bank.client.id,
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        scope: 'openid accounts:read',
        resource: BANK_API,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        state: 's1',
      });
      for (const headers of WRONG_HOSTS) {
        const start = await raw(server, `/auth?${query}`, headers);
        assert.equal(start.status, 303);
        const location = String(start.headers.location);
        assert.ok(
          location.startsWith('/interaction/') || location.startsWith(`${server.issuer}/`),
          location,
        );
        assertPublishedUnder(start, 'authorization redirect');
        const cookie = ([] as string[])
          .concat(start.headers['set-cookie'] ?? [])
          .map((c) => c.split(';')[0])
          .join('; ');
        const page = await raw(server, new URL(location, server.issuer).pathname, {
          ...headers,
          cookie,
        });
        assert.equal(page.status, 200);
        assert.match(page.body, /autocomplete="current-password"/);
        assertPublishedUnder(page, 'login page');

        // An error goes back to the client with iss = ISSUER (RFC 9207).
        const refused = await raw(
          server,
          `/auth?${new URLSearchParams({ ...Object.fromEntries(query), scope: 'openid nope:nope' })}`,
          headers,
        );
        assert.equal(refused.status, 303);
        const back = new URL(String(refused.headers.location));
        assert.equal(back.origin, new URL(REDIRECT_URI).origin);
        assert.equal(back.searchParams.get('iss'), server.issuer);
      }
    });

    test('JWKS and discovery carry a public Cache-Control within the rotation bound', async () => {
      for (const path of ['/.well-known/openid-configuration', '/jwks']) {
        const reply = await raw(server, path, { host: 'evil.example' });
        assert.equal(reply.status, 200);
        assert.equal(reply.headers['cache-control'], 'public, max-age=3600', path);
        assertPublishedUnder(reply, path);
      }
      // Anything else the protocol answers is still not cacheable.
      const token = await raw(
        server,
        '/token',
        {},
        {
          type: 'application/x-www-form-urlencoded',
          data: 'grant_type=client_credentials',
        },
      );
      assert.equal(token.headers['cache-control'], 'no-store');
    });

    test('registration_client_uri names ISSUER', async () => {
      const api = adminApi(server);
      const adminToken = await api.machineToken(['admin:clients']);
      const iat = (
        await api.call('POST', '/initial-access-tokens', {
          token: adminToken,
          body: { description: 'Partner', apiAccess: { [BANK_API]: ['accounts:read'] } },
        })
      ).body as { token: string; registrationEndpoint: string };
      assert.equal(iat.registrationEndpoint, `${server.issuer}/reg`);
      const reply = await raw(
        server,
        '/reg',
        {
          host: 'evil.example',
          'x-forwarded-host': 'evil.example',
          authorization: `Bearer ${iat.token}`,
        },
        {
          type: 'application/json',
          data: JSON.stringify({
            client_name: 'Partner app',
            redirect_uris: ['https://partner.example/cb'],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            token_endpoint_auth_method: 'client_secret_basic',
          }),
        },
      );
      assert.equal(reply.status, 201, reply.body);
      const client = JSON.parse(reply.body) as {
        client_id: string;
        registration_client_uri: string;
      };
      assert.equal(client.registration_client_uri, `${server.issuer}/reg/${client.client_id}`);
      assertPublishedUnder(reply, 'registration');
    });
  });
}

describe('the origin is pinned, the proxy still decides address and scheme', () => {
  const started: { server: TestServer; close(): Promise<void> }[] = [];
  /**
   * A server whose last middleware shows what a request looked like to Portcullis (Koa composes
   * middleware when it starts listening, so this one is added before).
   */
  async function observed(env: Record<string, string>): Promise<TestServer> {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const db = await createTestDatabase();
    const config = loadConfig({
      NODE_ENV: 'test',
      ISSUER: issuer,
      PORT: String(port),
      LOG_LEVEL: 'silent',
      SWEEP_INTERVAL_SECONDS: '0',
      ...testSecrets(),
      ...env,
    });
    const app = await createApp(config, { logger: createLogger('silent'), db });
    app.koa.use(async (ctx, next) => {
      if (ctx.path !== '/__observed') return next();
      ctx.body = { ip: ctx.ip, secure: ctx.secure, origin: ctx.origin, href: ctx.href };
    });
    await app.listen(port, '127.0.0.1');
    const server = {
      app,
      issuer,
      db,
      url: (path: string) => `${issuer}${path}`,
      close: async () => {},
    };
    started.push({
      server,
      close: async () => {
        await app.close();
        await db.drop();
      },
    });
    return server;
  }
  let direct: TestServer;
  let proxied: TestServer;
  before(async () => {
    direct = await observed({});
    proxied = await observed({ TRUSTED_PROXIES: '1' });
  });
  after(async () => {
    for (const s of started) await s.close();
  });

  const headers = {
    host: 'evil.example',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-proto': 'https',
    'x-forwarded-for': '203.0.113.9',
  };

  test('behind a trusted proxy: its address and scheme, ISSUER origin', async () => {
    const reply = await raw(proxied, '/__observed?x=1', headers);
    assert.deepEqual(JSON.parse(reply.body), {
      ip: '203.0.113.9',
      secure: true,
      origin: proxied.issuer,
      href: `${proxied.issuer}/__observed?x=1`,
    });
  });

  test('without a trusted proxy: the peer and the transport, ISSUER origin', async () => {
    const reply = await raw(direct, '/__observed', headers);
    assert.deepEqual(JSON.parse(reply.body), {
      ip: '127.0.0.1',
      secure: false,
      origin: direct.issuer,
      href: `${direct.issuer}/__observed`,
    });
  });
});

describe('the cache lifetime of discovery and JWKS', () => {
  test('JWKS_MAX_AGE_SECONDS, unless a staged key would sign before caches expire', () => {
    const defaults = {
      jwksMaxAgeSeconds: 3600,
      activationDelaySeconds: 172800,
      refreshSeconds: 60,
    };
    assert.equal(publicationMaxAge(defaults), 3600);
    // 10 minutes' delay: half of what is left after the refresh interval.
    assert.equal(publicationMaxAge({ ...defaults, activationDelaySeconds: 600 }), 270);
    assert.equal(publicationMaxAge({ ...defaults, activationDelaySeconds: 0 }), 0);
    assert.equal(publicationMaxAge({ ...defaults, activationDelaySeconds: 30 }), 0);
  });

  test('a short activation delay shortens the max-age a server sends', async () => {
    const server = await startTestServer({
      env: { KEYS_ACTIVATION_DELAY_SECONDS: '600', KEYS_REFRESH_SECONDS: '60' },
    });
    try {
      const jwks = await fetch(server.url('/jwks'));
      assert.equal(jwks.headers.get('cache-control'), 'public, max-age=270');
      // A key staged now is published at once, long before it signs.
      const staged = await server.app.services.signingKeys.rotate();
      await server.app.refreshKeys();
      const keys = (
        (await (await fetch(server.url('/jwks'))).json()) as { keys: { kid: string }[] }
      ).keys;
      assert.ok(keys.some((k) => k.kid === staged.key.kid));
      assert.ok(staged.key.activatesAt.getTime() - Date.now() > 270_000);
    } finally {
      await server.close();
    }
  });
});
