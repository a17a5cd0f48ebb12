// fapi2-security-profile-final-happy-flow with openid-client as the relying party: PAR,
// private_key_jwt and DPoP from start to end, then userinfo, introspection and refresh.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, importJWK } from 'jose';
import * as oidc from 'openid-client';
import { signInAt } from '../support/fapi.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { introspect, REDIRECT, SCOPE, SETUPS, seedWorld, VAULT, type World } from './thirdParty.ts';

/** What FAPI 2.0 allows clients and the server to sign with, and clients to authenticate with. */
const FAPI2_ALGS = ['PS256', 'ES256', 'EdDSA', 'Ed25519'];
const FAPI2_AUTH_METHODS = ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'];

for (const setup of SETUPS) {
  describe(`FAPI 2.0 Security Profile: happy flow (PAR + private_key_jwt + DPoP) (${setup.name})`, () => {
    let server: TestServer;
    let w: World;
    before(async () => {
      server = await startTestServer({ env: setup.env });
      w = await seedWorld(server, { fapi2: setup.fapi2 });
    });
    after(() => server.close());

    test('fapi2-security-profile-final-happy-flow: openid-client signs in, the tokens are DPoP-bound', async () => {
      const privateKey = (await importJWK(w.client.key.privateJwk, 'ES256')) as oidc.CryptoKey;
      const rp = await oidc.discovery(
        new URL(server.issuer),
        w.client.id,
        { redirect_uris: [REDIRECT] },
        oidc.PrivateKeyJwt({ key: privateKey, kid: w.client.key.publicJwk.kid }),
        { execute: [oidc.allowInsecureRequests] },
      );
      const dpopKeys = await oidc.randomDPoPKeyPair('ES256');
      const DPoP = oidc.getDPoPHandle(rp, dpopKeys);
      const verifier = oidc.randomPKCECodeVerifier();
      const url = await oidc.buildAuthorizationUrlWithPAR(
        rp,
        {
          redirect_uri: REDIRECT,
          scope: SCOPE,
          resource: VAULT,
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state: 'happy',
        },
        { DPoP },
      );
      assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
      const { redirect } = await signInAt(server, url.href, w.person.email);
      assert.ok(redirect?.searchParams.get('code'), 'a code');
      assert.equal(redirect!.searchParams.get('iss'), server.issuer);

      const tokens = await oidc.authorizationCodeGrant(
        rp,
        redirect!,
        { pkceCodeVerifier: verifier, expectedState: 'happy' },
        { resource: VAULT },
        { DPoP },
      );
      assert.equal(tokens.token_type.toLowerCase(), 'dpop');
      assert.equal(tokens.scope, 'vault:read');
      assert.ok(tokens.refresh_token);
      const jkt = await calculateJwkThumbprint(await exportJWK(dpopKeys.publicKey));
      const info = await introspect(w, tokens.access_token);
      assert.equal(info.active, true);
      assert.deepEqual(info.cnf, { jkt });

      // A refresh with the same DPoP key keeps the binding.
      const refreshed = await oidc.refreshTokenGrant(
        rp,
        tokens.refresh_token!,
        { resource: VAULT },
        { DPoP },
      );
      assert.equal(refreshed.token_type.toLowerCase(), 'dpop');
      assert.deepEqual((await introspect(w, refreshed.access_token)).cnf, { jkt });
    });

    test('fapi2-security-profile-final-happy-flow: userinfo answers a DPoP-bound token with its proof', async () => {
      const privateKey = (await importJWK(w.client.key.privateJwk, 'ES256')) as oidc.CryptoKey;
      const rp = await oidc.discovery(
        new URL(server.issuer),
        w.client.id,
        { redirect_uris: [REDIRECT] },
        oidc.PrivateKeyJwt({ key: privateKey, kid: w.client.key.publicJwk.kid }),
        { execute: [oidc.allowInsecureRequests] },
      );
      const DPoP = oidc.getDPoPHandle(rp, await oidc.randomDPoPKeyPair('ES256'));
      const verifier = oidc.randomPKCECodeVerifier();
      const url = await oidc.buildAuthorizationUrlWithPAR(
        rp,
        {
          redirect_uri: REDIRECT,
          scope: 'openid',
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state: 'me',
        },
        { DPoP },
      );
      const { redirect } = await signInAt(server, url.href, w.person.email);
      const tokens = await oidc.authorizationCodeGrant(
        rp,
        redirect!,
        { pkceCodeVerifier: verifier, expectedState: 'me' },
        undefined,
        { DPoP },
      );
      const me = await oidc.fetchUserInfo(rp, tokens.access_token, w.person.id, { DPoP });
      assert.equal(me.sub, w.person.id);
    });

    test('fapi2-security-profile-final-discovery-end-point-verification', async () => {
      const doc = (await (
        await fetch(server.url('/.well-known/openid-configuration'))
      ).json()) as Record<string, unknown>;
      const list = (name: string) => doc[name] as string[];
      assert.equal(doc.issuer, server.issuer);
      assert.equal(doc.pushed_authorization_request_endpoint, server.url('/request'));
      assert.equal(doc.authorization_response_iss_parameter_supported, true);
      assert.deepEqual(list('code_challenge_methods_supported'), ['S256']);
      assert.deepEqual(list('response_types_supported'), ['code']);
      assert.ok(list('scopes_supported').includes('openid'));
      assert.ok(list('token_endpoint_auth_methods_supported').includes('private_key_jwt'));
      for (const name of [
        'id_token_signing_alg_values_supported',
        'token_endpoint_auth_signing_alg_values_supported',
        'dpop_signing_alg_values_supported',
      ]) {
        assert.ok(list(name).length > 0, name);
        // Beside fapi2 clients, default ones may ask for RS256 ID tokens (OpenID Connect Core
        // §15.1); a fapi2 client is refused it (test/oidc/signingAlgs.test.ts).
        const mixed = !setup.env.FAPI_PROFILE && name === 'id_token_signing_alg_values_supported';
        for (const alg of list(name))
          assert.ok(FAPI2_ALGS.includes(alg) || (mixed && alg === 'RS256'), `${name}: ${alg}`);
      }
      if (setup.env.FAPI_PROFILE) {
        // Every client is FAPI 2.0: discovery says PAR is required and offers no secrets.
        assert.equal(doc.require_pushed_authorization_requests, true);
        for (const method of list('token_endpoint_auth_methods_supported')) {
          assert.ok(FAPI2_AUTH_METHODS.includes(method), method);
        }
      }
    });
  });
}
