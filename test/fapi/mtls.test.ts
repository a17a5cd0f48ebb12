// Mutual TLS with Portcullis serving HTTPS itself (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE):
// ISSUER is https://localhost:PORT, the mTLS endpoint aliases https://127.0.0.1:PORT on the same
// listener. The scenarios are in mtlsScenarios.ts; here also what only this deployment shows.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createTestPki } from '../support/certificates.ts';
import { startTestServer } from '../support/server.ts';
import { tlsFetch } from '../support/tlsFetch.ts';
import { mtlsScenarios } from './mtlsScenarios.ts';
import { clientCredentials, INVALID_CLIENT, seedMtlsWorld } from './mtlsWorld.ts';

mtlsScenarios('Portcullis serves TLS itself', async (pki) => {
  const server = await startTestServer({
    hostname: 'localhost',
    https: true,
    env: (port) => ({
      TLS_CERT_FILE: pki.server.certFile,
      TLS_KEY_FILE: pki.server.keyFile,
      TLS_CLIENT_CA_FILE: pki.tppCa.certFile,
      MTLS_ORIGIN: `https://127.0.0.1:${port}`,
    }),
  });
  return {
    server,
    issuer: server.issuer,
    mtlsOrigin: server.issuer.replace('localhost', '127.0.0.1'),
    close: () => server.close(),
  };
});

describe('mutual TLS on its own listener', () => {
  test('a certificate header is not read when Portcullis serves TLS itself', async () => {
    const pki = createTestPki();
    const server = await startTestServer({
      hostname: 'localhost',
      https: true,
      env: {
        TLS_CERT_FILE: pki.server.certFile,
        TLS_KEY_FILE: pki.server.keyFile,
        TLS_CLIENT_CA_FILE: pki.tppCa.certFile,
      },
    });
    try {
      const world = await seedMtlsWorld(server, pki);
      const forged = tlsFetch({
        ca: pki.serverCa.cert,
        headers: { 'x-ssl-client-cert': encodeURIComponent(pki.tppOne.cert) },
      });
      const got = await clientCredentials(forged, server.url('/token'), world.byDn);
      assert.equal(got.status, 401);
      assert.deepEqual(got.body, INVALID_CLIENT);
    } finally {
      await server.close();
      pki.remove();
    }
  });
});
