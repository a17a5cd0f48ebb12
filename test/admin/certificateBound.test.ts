// Sender-constrained admin tokens on a default-profile server: a certificate-bound token (RFC 8705)
// works only with the certificate it is bound to (here from the header a trusted proxy sets), and
// a client made DPoP-bound gets a DPoP-bound admin token that works with proofs, Bearer never.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { createTestPki, type TestPki } from '../support/certificates.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi, assertProblem } from './helpers.ts';

const HEADER = 'X-SSL-Client-Cert';
const thumbprintOf = (pem: string) =>
  createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');

describe('admin API: certificate-bound and DPoP-bound tokens without FAPI_PROFILE', () => {
  let pki: TestPki;
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;

  before(async () => {
    pki = createTestPki();
    // The test plays the proxy: the header is believed from 127.0.0.1 only.
    server = await startTestServer({
      env: {
        TRUSTED_PROXIES: '127.0.0.1',
        MTLS_CERTIFICATE_HEADER: HEADER,
        TLS_CLIENT_CA_FILE: pki.tppCa.certFile,
      },
    });
    api = adminApi(server);
  });
  after(async () => {
    await server?.close();
    pki?.remove();
  });

  test('a certificate-bound token works only with its certificate, and only as Bearer', async () => {
    const client = await api.machineClient(['admin:roles']);
    // The token endpoint binds tokens to certificates over TLS only (test/fapi/mtls*.test.ts):
    // the admin API's check is exercised with a token signed by the server's own key.
    const token = await api.forge({
      sub: client.id,
      client_id: client.id,
      scope: 'admin:roles',
      cnf: { 'x5t#S256': thumbprintOf(pki.tppOne.cert) },
    });
    const presenting = (pem: string) => ({ [HEADER]: encodeURIComponent(pem) });
    const ok = await api.call('GET', '/roles', { token, headers: presenting(pki.tppOne.cert) });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));

    const refused =
      'the access token is bound to a client certificate this request does not present';
    for (const headers of [{}, presenting(pki.tppTwo.cert)]) {
      const before = (await server.app.services.roles.list()).length;
      const reply = await api.call('POST', '/roles', {
        token,
        headers,
        body: { name: 'mtls-refused', scopes: [] },
      });
      assertProblem(reply, 401, 'invalid_token', refused);
      assert.equal(
        reply.headers.get('www-authenticate'),
        `Bearer realm="portcullis-admin", error="invalid_token", error_description="${refused}"`,
      );
      assert.equal((await server.app.services.roles.list()).length, before, 'nothing created');
    }
    assertProblem(
      await api.call('GET', '/roles', {
        headers: { authorization: `DPoP ${token}`, ...presenting(pki.tppOne.cert) },
      }),
      401,
      'invalid_token',
      'a certificate-bound access token is sent with the Bearer scheme',
    );
    const both = await api.forge({
      sub: client.id,
      client_id: client.id,
      scope: 'admin:roles',
      cnf: { 'x5t#S256': thumbprintOf(pki.tppOne.cert), jkt: 'x' },
    });
    assertProblem(
      await api.call('GET', '/roles', { token: both, headers: presenting(pki.tppOne.cert) }),
      401,
      'invalid_token',
      'the access token is bound in a way the admin API does not support',
    );
  });

  test('a DPoP-bound client of the default profile: DPoP with proofs works, the token as Bearer does not', async () => {
    const { client, secret } = await server.app.services.clients.create({
      name: 'DPoP automation',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      senderConstraint: 'dpop',
      apiAccess: { [api.audience]: ['admin:roles'] },
    });
    const config = await oidc.discovery(
      new URL(server.issuer),
      client.clientId,
      {},
      oidc.ClientSecretBasic(secret!),
      { execute: [oidc.allowInsecureRequests] },
    );
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const { access_token: token } = await oidc.clientCredentialsGrant(
      config,
      { resource: api.audience },
      { DPoP: dpop },
    );
    assert.ok((decodeJwt(token).cnf as { jkt?: string }).jkt);
    const url = new URL(server.url('/admin/v1/roles'));
    for (let i = 0; i < 2; i++) {
      const res = await oidc.fetchProtectedResource(
        config,
        token,
        url,
        'GET',
        undefined,
        undefined,
        {
          DPoP: dpop,
        },
      );
      assert.equal(res.status, 200, 'a fresh proof each time');
    }
    assertProblem(
      await api.call('GET', '/roles', { token }),
      401,
      'invalid_token',
      'a DPoP-bound access token must be sent with the DPoP scheme',
    );
    // A Bearer token of another client still works as before.
    assert.equal(
      (await api.call('GET', '/roles', { token: await api.machineToken(['admin:roles']) })).status,
      200,
    );
  });
});
