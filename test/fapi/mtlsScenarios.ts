// The mutual TLS scenarios (RFC 8705) every deployment must pass, run by mtls.test.ts (Portcullis
// serving TLS itself) and mtlsProxy.test.ts (behind nginx): certificate client authentication,
// certificate-bound tokens with cnf.x5t#S256, openid-client as the relying party, and the exact
// refusals (no, wrong, untrusted or mismatched certificate) with no token written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { HttpBrowser } from '../support/browserless.ts';
import type { Identity, TestPki } from '../support/certificates.ts';
import { createTestPki } from '../support/certificates.ts';
import type { TestServer } from '../support/server.ts';
import { tlsFetch } from '../support/tlsFetch.ts';
import {
  assertRefusedWithoutToken,
  clientCredentials,
  INVALID_CLIENT,
  type MtlsWorld,
  PAYMENTS,
  postForm,
  reply,
  STATEMENTS,
  seedMtlsWorld,
  signInAt,
  TPP_REDIRECT,
  thumbprintOf,
  tokensOf,
} from './mtlsWorld.ts';

export interface Deployment {
  server: TestServer;
  /** ISSUER and MTLS_ORIGIN as clients reach them. */
  issuer: string;
  mtlsOrigin: string;
  close(): Promise<void>;
}

/** How a deployment is started on the certificates of a test PKI. */
export type StartDeployment = (pki: TestPki) => Promise<Deployment>;

export function mtlsScenarios(name: string, start: StartDeployment): void {
  describe(`mutual TLS: ${name}`, () => {
    let pki: TestPki;
    let deployment: Deployment;
    let server: TestServer;
    let world: MtlsWorld;
    /** A fetch presenting `client` (or no certificate), trusting the server's CA. */
    const as = (client?: Identity, headers?: Record<string, string>) =>
      tlsFetch({ ca: pki.serverCa.cert, client, headers });
    const at = (path: string) => `${deployment.mtlsOrigin}${path}`;

    before(async () => {
      pki = createTestPki();
      deployment = await start(pki);
      server = deployment.server;
      world = await seedMtlsWorld(server, pki);
    });
    after(async () => {
      await deployment?.close();
      pki?.remove();
    });

    const relyingParty = (clientId: string, certificate: Identity) =>
      oidc.discovery(
        new URL(deployment.issuer),
        clientId,
        { redirect_uris: [TPP_REDIRECT], use_mtls_endpoint_aliases: true },
        oidc.TlsClientAuth(),
        { [oidc.customFetch]: as(certificate) },
      );

    test('discovery names the certificate methods, bound tokens and the mTLS aliases', async () => {
      const { body } = await reply(
        await as()(`${deployment.issuer}/.well-known/openid-configuration`),
      );
      for (const method of ['tls_client_auth', 'self_signed_tls_client_auth'])
        assert.ok(body.token_endpoint_auth_methods_supported.includes(method), method);
      assert.equal(body.tls_client_certificate_bound_access_tokens, true);
      assert.deepEqual(body.mtls_endpoint_aliases, {
        token_endpoint: at('/token'),
        pushed_authorization_request_endpoint: at('/request'),
        introspection_endpoint: at('/token/introspection'),
        revocation_endpoint: at('/token/revocation'),
        userinfo_endpoint: at('/me'),
      });
      assert.equal(body.token_endpoint, `${deployment.issuer}/token`);
    });

    test('the mTLS origin serves its endpoints only', async () => {
      const got = await reply(await as(pki.tppOne)(at('/.well-known/openid-configuration')));
      assert.equal(got.status, 404);
      assert.equal(got.body.error, 'not_found');
    });

    test('openid-client signs in over PAR with tls_client_auth; the tokens are bound to its certificate', async () => {
      const rp = await relyingParty(world.byDn, pki.tppOne);
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = await oidc.buildAuthorizationUrlWithPAR(rp, {
        redirect_uri: TPP_REDIRECT,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
      });
      assert.equal(url.origin, deployment.issuer, 'the browser goes to ISSUER');
      const browser = new HttpBrowser({}, as());
      const back = await signInAt(browser, url, deployment.issuer);
      const tokens = await oidc.authorizationCodeGrant(rp, back, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      const thumbprint = thumbprintOf(pki.tppOne);

      const introspected = await oidc.tokenIntrospection(rp, tokens.access_token);
      assert.equal(introspected.active, true);
      assert.deepEqual(introspected.cnf, { 'x5t#S256': thumbprint });

      const claims = tokens.claims();
      assert.ok(claims);
      const info = await oidc.fetchUserInfo(rp, tokens.access_token, claims.sub);
      assert.equal(info.sub, claims.sub);

      // RFC 8705 §3: presented over a connection with another certificate, or none, it is refused.
      const bearer = { authorization: `Bearer ${tokens.access_token}` };
      for (const certificate of [pki.tppTwo, pki.selfSigned, undefined]) {
        const refused = await as(certificate)(at('/me'), { headers: bearer });
        assert.equal(refused.status, 401, certificate?.certFile ?? 'no certificate');
        assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        assert.deepEqual(await refused.json(), {
          error: 'invalid_token',
          error_description: 'invalid token provided',
        });
      }
    });

    test('client credentials by subject alternative name and by self-signed certificate: bound tokens', async () => {
      for (const [clientId, certificate, bound] of [
        [world.bySan, pki.tppOne, false],
        [world.selfSigned, pki.selfSigned, true],
      ] as const) {
        const got = await clientCredentials(as(certificate), at('/token'), clientId);
        assert.equal(got.status, 200, JSON.stringify(got.body));
        assert.equal(got.body.token_type, 'Bearer');
        const introspected = await postForm(as(certificate), at('/token/introspection'), {
          client_id: clientId,
          token: got.body.access_token,
        });
        assert.equal(introspected.body.active, true);
        assert.deepEqual(
          introspected.body.cnf,
          bound ? { 'x5t#S256': thumbprintOf(certificate) } : undefined,
        );
      }
      // A JWT access token carries the binding itself (RFC 8705 §3.1).
      const jwt = await postForm(as(pki.selfSigned), at('/token'), {
        grant_type: 'client_credentials',
        client_id: world.selfSigned,
        scope: 'statements:read',
        resource: STATEMENTS,
      });
      assert.equal(jwt.status, 200, JSON.stringify(jwt.body));
      assert.deepEqual(decodeJwt(jwt.body.access_token).cnf, {
        'x5t#S256': thumbprintOf(pki.selfSigned),
      });
    });

    test('refused without a certificate, with an untrusted, a mismatched or an unregistered one: nothing issued', async () => {
      const cases: Array<[string, string, Identity | undefined]> = [
        ['no certificate (tls_client_auth)', world.byDn, undefined],
        ['same subject, issued by a CA nobody trusts', world.byDn, pki.rogue],
        ['trusted CA, another subject DN', world.byDn, pki.tppTwo],
        ['trusted CA, SAN without the registered DNS name', world.bySan, pki.tppTwo],
        ['a self-signed certificate for a tls_client_auth client', world.byDn, pki.selfSigned],
        ['no certificate (self_signed_tls_client_auth)', world.selfSigned, undefined],
        ['another self-signed certificate, same subject', world.selfSigned, pki.otherSelfSigned],
        ['a CA-issued certificate not in the JWKS', world.selfSigned, pki.tppOne],
      ];
      for (const [why, clientId, certificate] of cases) {
        await assertRefusedWithoutToken(
          server,
          clientId,
          () => clientCredentials(as(certificate), at('/token'), clientId),
          401,
          INVALID_CLIENT,
        ).catch((err: Error) => {
          err.message = `${why}: ${err.message}`;
          throw err;
        });
      }
    });

    test('a certificate-bound client cannot redeem its code over another certificate', async () => {
      const rp = await relyingParty(world.byDn, pki.tppOne);
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = await oidc.buildAuthorizationUrlWithPAR(rp, {
        redirect_uri: TPP_REDIRECT,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        resource: PAYMENTS,
      });
      const back = await signInAt(new HttpBrowser({}, as()), url, deployment.issuer);
      const before = await tokensOf(server, world.byDn);
      const redeem = (certificate: Identity | undefined) =>
        postForm(as(certificate), at('/token'), {
          grant_type: 'authorization_code',
          client_id: world.byDn,
          code: back.searchParams.get('code')!,
          code_verifier: verifier,
          redirect_uri: TPP_REDIRECT,
        });
      for (const certificate of [pki.tppTwo, undefined]) {
        const got = await redeem(certificate);
        assert.equal(got.status, 401, JSON.stringify(got.body));
        assert.deepEqual(got.body, INVALID_CLIENT);
      }
      assert.equal(await tokensOf(server, world.byDn), before, 'no token was written');
    });
  });
}
