// FAPI 2.0 clients with mutual TLS (RFC 8705) on Portcullis' own TLS listener: a fapi2 client
// authenticating with tls_client_auth and certificate-bound tokens needs no DPoP; openid-client
// runs the whole flow over PAR and the mTLS aliases. A fapi2 client that did not choose mTLS
// binding gets DPoP-bound tokens and is refused without a proof; nothing is issued then.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { HttpBrowser } from '../support/browserless.ts';
import { createTestPki, type TestPki } from '../support/certificates.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tlsFetch } from '../support/tlsFetch.ts';
import {
  assertRefusedWithoutToken,
  clientCredentials,
  jwkWithCertificate,
  PAYMENTS,
  postForm,
  seedMtlsWorld,
  signInAt,
  TPP_REDIRECT,
  thumbprintOf,
} from './mtlsWorld.ts';

describe('FAPI 2.0 clients with mutual TLS', () => {
  let pki: TestPki;
  let server: TestServer;
  let mtlsOrigin: string;
  let certificateBound: string;
  let selfSignedDpop: string;

  before(async () => {
    pki = createTestPki();
    server = await startTestServer({
      hostname: 'localhost',
      https: true,
      env: (port) => ({
        TLS_CERT_FILE: pki.server.certFile,
        TLS_KEY_FILE: pki.server.keyFile,
        TLS_CLIENT_CA_FILE: pki.tppCa.certFile,
        MTLS_ORIGIN: `https://127.0.0.1:${port}`,
      }),
    });
    mtlsOrigin = server.issuer.replace('localhost', '127.0.0.1');
    await seedMtlsWorld(server, pki);
    const { clients } = server.app.services;
    certificateBound = (
      await clients.create({
        name: 'Fintech One (FAPI 2.0)',
        profile: 'fapi2',
        grantTypes: ['authorization_code', 'refresh_token'],
        redirectUris: [TPP_REDIRECT],
        authMethod: 'tls_client_auth',
        tlsSubject: { kind: 'subject_dn', value: 'CN=tpp-one,O=Fintech One,C=GB' },
        senderConstraint: 'mtls',
        apiAccess: { [PAYMENTS]: ['payments:read'] },
        firstParty: true,
      })
    ).client.clientId;
    selfSignedDpop = (
      await clients.create({
        name: 'Self-signed (FAPI 2.0, DPoP)',
        profile: 'fapi2',
        grantTypes: ['client_credentials'],
        authMethod: 'self_signed_tls_client_auth',
        jwks: { keys: [await jwkWithCertificate(pki.selfSigned)] },
        apiAccess: { [PAYMENTS]: ['payments:read'] },
      })
    ).client.clientId;
  });
  after(async () => {
    await server?.close();
    pki?.remove();
  });

  test('stored with PAR required and tokens bound to the certificate, not DPoP', async () => {
    const metadata = await server.app.services.clients.providerMetadata(certificateBound);
    assert.equal(metadata?.profile, 'fapi2');
    assert.equal(metadata?.require_pushed_authorization_requests, true);
    assert.equal(metadata?.tls_client_certificate_bound_access_tokens, true);
    assert.equal(metadata?.dpop_bound_access_tokens, undefined);
    const other = await server.app.services.clients.providerMetadata(selfSignedDpop);
    assert.equal(other?.dpop_bound_access_tokens, true, 'the profile binds it to DPoP');
  });

  test('openid-client: PAR + tls_client_auth over the aliases, certificate-bound tokens, no DPoP', async () => {
    const send = tlsFetch({ ca: pki.serverCa.cert, client: pki.tppOne });
    const rp = await oidc.discovery(
      new URL(server.issuer),
      certificateBound,
      { redirect_uris: [TPP_REDIRECT], use_mtls_endpoint_aliases: true },
      oidc.TlsClientAuth(),
      { [oidc.customFetch]: send },
    );
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(rp, {
      redirect_uri: TPP_REDIRECT,
      scope: 'openid payments:read',
      resource: PAYMENTS,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const browser = new HttpBrowser({}, tlsFetch({ ca: pki.serverCa.cert }));
    const back = await signInAt(browser, url, server.issuer);
    assert.equal(back.searchParams.get('iss'), server.issuer, 'iss in the response (RFC 9207)');
    const tokens = await oidc.authorizationCodeGrant(
      rp,
      back,
      { pkceCodeVerifier: verifier, expectedState: state },
      { resource: PAYMENTS },
    );
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    const introspected = await oidc.tokenIntrospection(rp, tokens.access_token);
    assert.equal(introspected.active, true);
    assert.deepEqual(introspected.cnf, { 'x5t#S256': thumbprintOf(pki.tppOne) });
    assert.ok(tokens.refresh_token);
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token, {
      resource: PAYMENTS,
    });
    assert.deepEqual((await oidc.tokenIntrospection(rp, refreshed.access_token)).cnf, {
      'x5t#S256': thumbprintOf(pki.tppOne),
    });
    // Over another certificate the refresh token is refused (client authentication fails first).
    const stolen = await postForm(
      tlsFetch({ ca: pki.serverCa.cert, client: pki.tppTwo }),
      `${mtlsOrigin}/token`,
      {
        grant_type: 'refresh_token',
        client_id: certificateBound,
        refresh_token: tokens.refresh_token,
      },
    );
    assert.equal(stolen.status, 401);
    assert.equal(stolen.body.error, 'invalid_client');
  });

  test('a fapi2 client whose tokens are DPoP-bound is refused without a proof: nothing issued', async () => {
    const send = tlsFetch({ ca: pki.serverCa.cert, client: pki.selfSigned });
    await assertRefusedWithoutToken(
      server,
      selfSignedDpop,
      () => clientCredentials(send, `${mtlsOrigin}/token`, selfSignedDpop),
      // oidc-provider's InvalidGrant ('DPoP proof JWT not provided'), with its public description.
      400,
      { error: 'invalid_grant', error_description: 'grant request is invalid' },
    );
  });
});
