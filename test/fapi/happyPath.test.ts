// fapi2-security-profile-final-happy-flow with openid-client as the relying party: PAR,
// private_key_jwt and DPoP from start to end, then userinfo, introspection and refresh.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, exportJWK, importJWK } from 'jose';
import * as oidc from 'openid-client';
import { signInAt } from '../support/fapi.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { introspect, REDIRECT, SCOPE, SETUPS, seedWorld, VAULT, type World } from './thirdParty.ts';

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

    test('discovery publishes PAR, DPoP and private_key_jwt', async () => {
      const doc = (await (await fetch(server.url('/.well-known/openid-configuration'))).json()) as {
        pushed_authorization_request_endpoint: string;
        dpop_signing_alg_values_supported: string[];
        token_endpoint_auth_methods_supported: string[];
        authorization_response_iss_parameter_supported: boolean;
        code_challenge_methods_supported: string[];
      };
      assert.equal(doc.pushed_authorization_request_endpoint, server.url('/request'));
      assert.ok(doc.dpop_signing_alg_values_supported.includes('ES256'));
      assert.ok(!doc.dpop_signing_alg_values_supported.includes('RS256'));
      assert.ok(doc.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
      assert.equal(doc.authorization_response_iss_parameter_supported, true);
      assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
    });
  });
}
