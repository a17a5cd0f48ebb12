// MTLS_ORIGIN is the one origin besides ISSUER's that a request may be served at, chosen by the
// Host header alone (never X-Forwarded-Host), and only for the mTLS endpoint aliases: everything
// else there is a 404, and any other Host is still pinned to ISSUER.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.ts';

const MTLS_HOST = 'mtls.auth.example';

interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies
  body: any;
}

/** A GET with a chosen Host header (fetch cannot set it). */
function get(server: TestServer, path: string, headers: Record<string, string>): Promise<Reply> {
  const { port } = new URL(server.issuer);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: Number(port),
        path,
        headers: { accept: 'application/json', ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('the mTLS origin', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      env: {
        TRUSTED_PROXIES: '127.0.0.2',
        MTLS_CERTIFICATE_HEADER: 'X-SSL-Client-Cert',
        MTLS_ORIGIN: `https://${MTLS_HOST}`,
      },
    });
  });
  after(() => server.close());

  test('discovery is served at ISSUER, whatever Host or X-Forwarded-Host say, and names the aliases', async () => {
    const variants: Record<string, string>[] = [
      {},
      { host: 'evil.example' },
      { host: `${MTLS_HOST}.evil.example` },
      { 'x-forwarded-host': MTLS_HOST },
    ];
    for (const headers of variants) {
      const got = await get(server, '/.well-known/openid-configuration', headers);
      assert.equal(got.status, 200, JSON.stringify(headers));
      assert.equal(got.body.issuer, server.issuer);
      assert.equal(got.body.token_endpoint, `${server.issuer}/token`);
      assert.equal(got.body.mtls_endpoint_aliases.token_endpoint, `https://${MTLS_HOST}/token`);
    }
  });

  test('at the mTLS host only the aliased endpoints answer', async () => {
    for (const host of [MTLS_HOST, `${MTLS_HOST}:443`, MTLS_HOST.toUpperCase()]) {
      for (const path of [
        '/.well-known/openid-configuration',
        '/jwks',
        '/auth',
        '/healthz',
        '/admin/v1/clients',
      ]) {
        const got = await get(server, path, { host });
        assert.equal(got.status, 404, `${host}${path}`);
      }
      // The token endpoint is there (a GET is the wrong method, not an unknown path).
      const token = await get(server, '/token', { host });
      assert.equal(token.status, 405, `${host}/token`);
      const userinfo = await get(server, '/me', { host });
      assert.equal(userinfo.status, 401, `${host}/me`);
      assert.equal(userinfo.body.error, 'invalid_token');
    }
  });
});
