// FAPI 2.0 Message Signing, the server's answers: JARM taken by openid-client (a tampered or foreign
// response refused by it) and signed introspection responses (RFC 9701) verified with jose.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeJwt, generateKeyPair, type JWK, jwtVerify, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { LEDGER } from '../oidc/ledger.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  redirectedTo,
  SIGNING_REDIRECT,
  type SigningBank,
  seedSigningBank,
  signInAt,
  storedArtifacts,
} from './signing.ts';

const INTROSPECTION_JWT = 'application/token-introspection+jwt';

describe('FAPI 2.0 Message Signing: signed authorization and introspection responses', () => {
  let server: TestServer;
  let bank: SigningBank;
  let jwks: ReturnType<typeof createLocalJWKSet>;

  before(async () => {
    server = await startTestServer();
    bank = await seedSigningBank(server);
    const published = (await (await fetch(server.url('/jwks'))).json()) as { keys: JWK[] };
    jwks = createLocalJWKSet(published);
  });
  after(() => server.close());

  /** The signer as an openid-client relying party taking JARM responses. */
  const relyingParty = () =>
    oidc.discovery(
      new URL(server.issuer),
      bank.signer.id,
      { redirect_uris: [SIGNING_REDIRECT] },
      oidc.PrivateKeyJwt({ key: bank.signer.key, kid: bank.signer.kid }),
      { execute: [oidc.allowInsecureRequests, oidc.useJwtResponseMode] },
    );

  /**
   * Pushes a signed request object asking for a JARM response (DPoP-bound, as FAPI 2.0 wants),
   * signs the person in, and returns the callback URL with everything needed to redeem it.
   */
  async function jarmCallback() {
    const config = await relyingParty();
    const dpop = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const { searchParams } = await oidc.buildAuthorizationUrlWithJAR(
      config,
      {
        redirect_uri: SIGNING_REDIRECT,
        scope: 'openid ledger:read',
        resource: LEDGER,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        response_mode: 'jwt',
        state,
      },
      { key: bank.signer.key, kid: bank.signer.kid },
    );
    const url = await oidc.buildAuthorizationUrlWithPAR(config, searchParams, { DPoP: dpop });
    const callback = redirectedTo(await signInAt(server, bank, url.href));
    return { config, dpop, verifier, state, callback };
  }

  const redeem = (flow: Awaited<ReturnType<typeof jarmCallback>>, callback = flow.callback) =>
    oidc.authorizationCodeGrant(
      flow.config,
      callback,
      { pkceCodeVerifier: flow.verifier, expectedState: flow.state },
      { resource: LEDGER },
      { DPoP: flow.dpop },
    );

  /** The RP refuses the authorization response: its signature does not verify against the JWKS. */
  const refusedByRp = (redeeming: Promise<unknown>) =>
    assert.rejects(redeeming, (err: Error & { code?: string; cause?: Error }) => {
      assert.equal(err.code, 'OAUTH_INVALID_RESPONSE');
      assert.equal(err.cause?.message, 'JWT signature verification failed');
      return true;
    });

  test('discovery advertises JARM, signed request objects and signed introspection', async () => {
    const meta = (await relyingParty()).serverMetadata();
    for (const mode of ['jwt', 'query.jwt'])
      assert.ok(meta.response_modes_supported?.includes(mode), mode);
    assert.equal(meta.request_parameter_supported, true);
    assert.deepEqual(
      [...(meta.request_object_signing_alg_values_supported ?? [])].sort(),
      ['ES256', 'EdDSA', 'Ed25519', 'PS256'].sort(),
    );
    // Every algorithm of the key ring (the default first, RS256 too): the client picks one.
    const algs = server.app.config.keys.algs;
    assert.deepEqual(meta.authorization_signing_alg_values_supported, algs);
    assert.deepEqual(meta.introspection_signing_alg_values_supported, algs);
  });

  test('happy flow: the response is a JWT signed by the server, and the RP redeems its code', async () => {
    const flow = await jarmCallback();
    assert.deepEqual([...flow.callback.searchParams.keys()], ['response'], 'only the JWT');
    const response = flow.callback.searchParams.get('response')!;
    const { payload, protectedHeader } = await jwtVerify(response, jwks, {
      issuer: server.issuer,
      audience: bank.signer.id,
    });
    assert.equal(protectedHeader.alg, server.app.config.keys.alg);
    assert.equal(payload.state, flow.state);
    assert.equal(typeof payload.code, 'string');
    const lifetime = payload.exp! - Date.now() / 1000;
    assert.ok(lifetime > 0 && lifetime <= 120, `expires within 2 minutes: ${lifetime}`);

    const tokens = await redeem(flow);
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    assert.ok(tokens.access_token && tokens.id_token);
  });

  test('a tampered response (another code under the same signature) is refused by the RP', async () => {
    const flow = await jarmCallback();
    const [header, body, signature] = flow.callback.searchParams.get('response')!.split('.');
    const claims = JSON.parse(Buffer.from(body!, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, code: `${claims.code}x` }));
    const callback = new URL(SIGNING_REDIRECT);
    callback.searchParams.set('response', `${header}.${forged.toString('base64url')}.${signature}`);
    const before = await storedArtifacts(server);
    await refusedByRp(redeem(flow, callback));
    assert.deepEqual(await storedArtifacts(server), before, 'no token was issued');
  });

  test('a response signed by someone else with the claims the server would send is refused', async () => {
    const flow = await jarmCallback();
    const real = flow.callback.searchParams.get('response')!;
    const claims = decodeJwt(real);
    const { privateKey } = await generateKeyPair('ES256');
    const kid = JSON.parse(Buffer.from(real.split('.')[0]!, 'base64url').toString()).kid;
    const foreign = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid })
      .sign(privateKey);
    const callback = new URL(SIGNING_REDIRECT);
    callback.searchParams.set('response', foreign);
    const before = await storedArtifacts(server);
    await refusedByRp(redeem(flow, callback));
    assert.deepEqual(await storedArtifacts(server), before, 'no token was issued');
  });

  test('an error is answered in a signed response too, and the RP reports it', async () => {
    const config = await relyingParty();
    const state = oidc.randomState();
    const verifier = oidc.randomPKCECodeVerifier();
    const { searchParams } = await oidc.buildAuthorizationUrlWithJAR(
      config,
      {
        redirect_uri: SIGNING_REDIRECT,
        scope: 'openid ledger:read',
        resource: LEDGER,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        response_mode: 'jwt',
        // Nobody is signed in in a new browser: login_required.
        prompt: 'none',
        state,
      },
      { key: bank.signer.key, kid: bank.signer.kid },
    );
    const url = await oidc.buildAuthorizationUrlWithPAR(config, searchParams);
    const callback = redirectedTo(await signInAt(server, bank, url.href));
    const { payload } = await jwtVerify(callback.searchParams.get('response')!, jwks, {
      issuer: server.issuer,
      audience: bank.signer.id,
    });
    assert.equal(payload.error, 'login_required');
    assert.equal(payload.state, state);
    assert.equal(payload.code, undefined);
    await assert.rejects(
      oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      }),
      (err: Error & { error?: string }) => {
        assert.equal(err.error, 'login_required');
        return true;
      },
    );
  });

  describe('signed introspection (RFC 9701)', () => {
    let accessToken: string;

    before(async () => {
      accessToken = (await redeem(await jarmCallback())).access_token;
    });

    const introspect = (token: string, accept?: string) =>
      fetch(server.url('/token/introspection'), {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${bank.ledger.resourceServer.id}:${bank.ledger.resourceServer.secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          ...(accept ? { accept } : {}),
        },
        body: new URLSearchParams({ token }),
      });

    async function signedIntrospection(token: string) {
      const res = await introspect(token, INTROSPECTION_JWT);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/token-introspection\+jwt/);
      const { payload, protectedHeader } = await jwtVerify(await res.text(), jwks, {
        issuer: server.issuer,
        audience: bank.ledger.resourceServer.id,
        typ: 'token-introspection+jwt',
      });
      assert.equal(protectedHeader.alg, server.app.config.keys.alg);
      assert.equal(typeof payload.iat, 'number');
      return payload.token_introspection as Record<string, unknown>;
    }

    test('a resource server asking for a JWT gets the introspection signed, verifiable against the JWKS', async () => {
      const signed = await signedIntrospection(accessToken);
      const plain = await (await introspect(accessToken)).json();
      assert.deepEqual(signed, plain, 'the same answer as the JSON one');
      assert.equal(signed.active, true);
      assert.equal(signed.client_id, bank.signer.id);
      assert.equal(signed.aud, LEDGER);
      assert.ok((signed.cnf as { jkt?: string }).jkt, 'DPoP-bound');
    });

    test('an unknown token is reported inactive, signed too', async () => {
      assert.deepEqual(await signedIntrospection('no-such-token'), { active: false });
    });

    test('without the Accept header the answer stays plain JSON (as before)', async () => {
      const res = await introspect(accessToken);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(((await res.json()) as { active: boolean }).active, true);
    });
  });
});
