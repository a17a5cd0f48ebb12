// Mutual TLS behind nginx, configured as the README's "Mutual TLS" section shows: nginx terminates
// TLS for ISSUER and, on a second server, for the mTLS endpoint aliases, where it asks for a client
// certificate and forwards it in X-SSL-Client-Cert. Portcullis believes that header only from the
// proxy's address (TRUSTED_PROXIES=127.0.0.2, nginx's proxy_bind): the same header sent straight
// from anywhere else gives no certificate.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createTestPki, type TestPki } from '../support/certificates.ts';
import { type RunningNginx, startNginx } from '../support/nginx.ts';
import { freePort, startTestServer, type TestServer } from '../support/server.ts';
import { tlsFetch } from '../support/tlsFetch.ts';
import { mtlsScenarios } from './mtlsScenarios.ts';
import {
  assertRefusedWithoutToken,
  clientCredentials,
  INVALID_CLIENT,
  type MtlsWorld,
  type Reply,
  seedMtlsWorld,
  tokensOf,
} from './mtlsWorld.ts';

const PROXY_ADDRESS = '127.0.0.2';
const HEADER = 'X-SSL-Client-Cert';

/** The README's nginx servers, on test ports and certificates. */
function nginxHttpBlock(pki: TestPki, ports: { issuer: number; mtls: number; app: number }) {
  const proxied = (certificate: string) => `
    location / {
      proxy_pass http://portcullis;
      proxy_bind ${PROXY_ADDRESS};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header ${HEADER} ${certificate};
    }`;
  return `
  upstream portcullis { server 127.0.0.1:${ports.app}; }
  ssl_certificate ${pki.server.certFile};
  ssl_certificate_key ${pki.server.keyFile};
  ssl_protocols TLSv1.2 TLSv1.3;
  server {
    listen 127.0.0.1:${ports.issuer} ssl;
    ${proxied('""')}
  }
  server {
    listen 127.0.0.1:${ports.mtls} ssl;
    ssl_verify_client optional_no_ca;
    ssl_client_certificate ${pki.tppCa.certFile};
    ${proxied('$ssl_client_escaped_cert')}
  }`;
}

/** Portcullis behind nginx: ISSUER and MTLS_ORIGIN are nginx's two servers. */
async function behindNginx(pki: TestPki) {
  const ports = { issuer: await freePort(), mtls: await freePort() };
  const issuer = `https://127.0.0.1:${ports.issuer}`;
  const mtlsOrigin = `https://127.0.0.1:${ports.mtls}`;
  const server = await startTestServer({
    env: {
      ISSUER: issuer,
      MTLS_ORIGIN: mtlsOrigin,
      TRUSTED_PROXIES: PROXY_ADDRESS,
      MTLS_CERTIFICATE_HEADER: HEADER,
      TLS_CLIENT_CA_FILE: pki.tppCa.certFile,
    },
  });
  let nginx: RunningNginx | undefined;
  try {
    const app = Number(new URL(server.url('/')).port);
    nginx = await startNginx(pki.dir, nginxHttpBlock(pki, { ...ports, app }), [
      ports.issuer,
      ports.mtls,
    ]);
  } catch (err) {
    await server.close();
    throw err;
  }
  const running = nginx;
  return {
    server,
    issuer,
    mtlsOrigin,
    async close() {
      await running.stop();
      await server.close();
    },
  };
}

mtlsScenarios('behind nginx (MTLS_CERTIFICATE_HEADER)', behindNginx);

describe('mutual TLS behind nginx: the certificate header', () => {
  let pki: TestPki;
  let deployment: Awaited<ReturnType<typeof behindNginx>>;
  let server: TestServer;
  let world: MtlsWorld;

  before(async () => {
    pki = createTestPki();
    deployment = await behindNginx(pki);
    server = deployment.server;
    world = await seedMtlsWorld(server, pki);
  });
  after(async () => {
    await deployment?.close();
    pki?.remove();
  });

  /** A valid certificate in the header, sent straight to Portcullis (not from the proxy's address). */
  const direct = (clientId: string, certificatePem: string) =>
    clientCredentials(
      (url, init) =>
        fetch(url, {
          ...init,
          headers: {
            [HEADER]: encodeURIComponent(certificatePem),
            'X-Forwarded-Proto': 'https',
            Host: new URL(deployment.mtlsOrigin).host,
          },
        }),
      server.url('/token'),
      clientId,
    );

  test('the header forged by a peer that is not a trusted proxy gives no certificate', async () => {
    for (const [clientId, pem] of [
      [world.byDn, pki.tppOne.cert],
      [world.selfSigned, pki.selfSigned.cert],
    ] as const) {
      // Without X-Forwarded-Proto from a trusted proxy the request is plain http: refused first.
      const got = await direct(clientId, pem);
      assert.equal(got.status, 400, JSON.stringify(got.body));
      assert.equal(got.body.error, 'invalid_request');
      assert.match(got.body.error_description, /served over https/);
    }
  });

  test('the header forged through nginx is replaced by the certificate nginx saw', async () => {
    const forged = { [HEADER]: encodeURIComponent(pki.tppOne.cert) };
    for (const [origin, why] of [
      [deployment.mtlsOrigin, 'no certificate at the mTLS server'],
      [deployment.issuer, 'at the issuer server, which forwards none'],
    ] as const) {
      await assertRefusedWithoutToken(
        server,
        world.byDn,
        () =>
          clientCredentials(
            tlsFetch({ ca: pki.serverCa.cert, headers: forged }),
            `${origin}/token`,
            world.byDn,
          ),
        401,
        INVALID_CLIENT,
      ).catch((err: Error) => {
        err.message = `${why}: ${err.message}`;
        throw err;
      });
    }
    // Over a connection with tppTwo's certificate, tppOne's in a forged header changes nothing.
    await assertRefusedWithoutToken(
      server,
      world.byDn,
      () =>
        clientCredentials(
          tlsFetch({ ca: pki.serverCa.cert, client: pki.tppTwo, headers: forged }),
          `${deployment.mtlsOrigin}/token`,
          world.byDn,
        ),
      401,
      INVALID_CLIENT,
    );
  });
});

/** A client credentials request over plain http from a chosen local address (127.0.0.x). */
function tokenRequestFrom(
  localAddress: string,
  url: string,
  clientId: string,
  headers: Record<string, string>,
): Promise<Reply> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: clientId,
    scope: 'payments:read',
    resource: 'https://payments.api.example',
  }).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        localAddress,
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString()),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('mutual TLS: the certificate header is believed from a trusted proxy only', () => {
  test('the same request is a certificate from 127.0.0.2 (the proxy) and none from 127.0.0.1', async () => {
    const pki = createTestPki();
    const port = await freePort();
    const server = await startTestServer({
      env: {
        // Plain http, so the only difference between the two requests is who sent them.
        MTLS_ORIGIN: `https://mtls.127.0.0.1.example:${port}`,
        TRUSTED_PROXIES: PROXY_ADDRESS,
        MTLS_CERTIFICATE_HEADER: HEADER,
        TLS_CLIENT_CA_FILE: pki.tppCa.certFile,
      },
    });
    try {
      const world = await seedMtlsWorld(server, pki);
      for (const [clientId, pem] of [
        [world.byDn, pki.tppOne.cert],
        [world.selfSigned, pki.selfSigned.cert],
      ] as const) {
        const headers = { [HEADER]: encodeURIComponent(pem) };
        const before = await tokensOf(server, clientId);
        const forged = await tokenRequestFrom('127.0.0.1', server.url('/token'), clientId, headers);
        assert.equal(forged.status, 401, JSON.stringify(forged.body));
        assert.deepEqual(forged.body, INVALID_CLIENT);
        assert.equal(await tokensOf(server, clientId), before, 'no token was written');
        const proxied = await tokenRequestFrom(
          PROXY_ADDRESS,
          server.url('/token'),
          clientId,
          headers,
        );
        assert.equal(proxied.status, 200, JSON.stringify(proxied.body));
        assert.equal(await tokensOf(server, clientId), before + 1);
      }
    } finally {
      await server.close();
      pki.remove();
    }
  });
});
