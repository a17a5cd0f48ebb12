// Signing algorithms per client: the key ring keeps an active key per algorithm (the default and
// RS256 always), each client's ID tokens and UserInfo are signed with the one it chose, fapi2
// clients are refused RS256, and each algorithm's key rotates on its own.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { DomainError } from '../../src/errors.ts';
import { HttpBrowser, loginForCode } from '../support/browserless.ts';
import { signingKey } from '../support/fapi.ts';
import { BANK_API, type Bank, PASSWORD, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const jwksOf = async (server: TestServer) =>
  (await (await fetch(server.url('/jwks'))).json()) as JSONWebKeySet;

describe('SIGNING_ALGS', () => {
  const base = { NODE_ENV: 'test' };
  test('RS256 is added to the default, and SIGNING_ALGS lists more with the first the default', () => {
    assert.deepEqual(loadConfig(base).keys, {
      ...loadConfig(base).keys,
      alg: 'ES256',
      algs: ['ES256', 'RS256'],
    });
    const c = loadConfig({ ...base, SIGNING_ALGS: 'PS256,ES256' });
    assert.equal(c.keys.alg, 'PS256');
    assert.deepEqual(c.keys.algs, ['PS256', 'ES256', 'RS256']);
    assert.deepEqual(loadConfig({ ...base, SIGNING_ALG: 'Ed25519' }).keys.algs, [
      'Ed25519',
      'RS256',
    ]);
  });
  test('bad lists are refused with one line naming the variable', () => {
    const cases: [Record<string, string>, string][] = [
      [
        { SIGNING_ALGS: 'ES256,HS256' },
        'Invalid configuration: SIGNING_ALGS must list algorithms among ES256, PS256, Ed25519, RS256',
      ],
      [
        { SIGNING_ALGS: 'ES256,ES256' },
        'Invalid configuration: SIGNING_ALGS must not repeat an algorithm',
      ],
      [
        { SIGNING_ALGS: 'RS256,ES256' },
        'Invalid configuration: SIGNING_ALGS must not start with RS256 (the first is the default, used for JWT access tokens)',
      ],
      [
        { SIGNING_ALGS: 'ES256,RS256', SIGNING_ALG: 'PS256' },
        'Invalid configuration: SIGNING_ALG must be the first entry of SIGNING_ALGS (or be left unset)',
      ],
    ];
    for (const [env, message] of cases) {
      assert.throws(
        () => loadConfig({ ...base, ...env }),
        (err: unknown) => err instanceof ConfigError && err.message === message,
      );
    }
  });
});

describe('signing algorithms per client', () => {
  let server: TestServer;
  let bank: Bank;
  let rsa: { id: string; secret: string };

  const rpFor = (client: { id: string; secret: string }, metadata: Partial<oidc.ClientMetadata>) =>
    oidc.discovery(
      new URL(server.issuer),
      client.id,
      { redirect_uris: [REDIRECT_URI], ...metadata },
      oidc.ClientSecretBasic(client.secret),
      { execute: [oidc.allowInsecureRequests] },
    );

  async function signIn(client: { id: string }, rp: oidc.Configuration) {
    const { redirect, verifier } = await loginForCode(new HttpBrowser(), {
      issuer: server.issuer,
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      scope: 'openid accounts:read',
      resource: BANK_API,
      email: 'alice@example.com',
      password: PASSWORD,
    });
    assert.ok(redirect, 'the login ends at the redirect URI');
    return oidc.authorizationCodeGrant(
      rp,
      redirect,
      { pkceCodeVerifier: verifier, expectedState: redirect.searchParams.get('state')! },
      { resource: BANK_API },
    );
  }

  before(async () => {
    server = await startTestServer({
      env: { KEYS_REFRESH_SECONDS: '1', KEYS_ACTIVATION_DELAY_SECONDS: '0' },
    });
    bank = await seedBank(server);
    const created = await server.app.services.clients.create({
      name: 'Legacy RP',
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECT_URI],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read'] },
      idTokenAlg: 'RS256',
      userinfoAlg: 'RS256',
    });
    rsa = { id: created.client.clientId, secret: created.secret! };
    assert.deepEqual(created.client.signing, { idTokenAlg: 'RS256', userinfoAlg: 'RS256' });
  });
  after(() => server.close());

  test('discovery and the JWKS offer RS256 beside the default', async () => {
    const rp = await bank.rp();
    const meta = rp.serverMetadata();
    assert.deepEqual(meta.id_token_signing_alg_values_supported, ['ES256', 'RS256']);
    assert.deepEqual(meta.userinfo_signing_alg_values_supported, ['ES256', 'RS256']);
    const keys = (await jwksOf(server)).keys;
    assert.deepEqual(keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);
    for (const k of keys) assert.equal(k.d, undefined, 'public keys only');
  });

  test('an RS256 client gets RS256 ID tokens and UserInfo; its access tokens keep the default', async () => {
    const rp = await rpFor(rsa, {
      id_token_signed_response_alg: 'RS256',
      userinfo_signed_response_alg: 'RS256',
    });
    const tokens = await signIn(rsa, rp);
    const jwks = createLocalJWKSet(await jwksOf(server));
    const idToken = await jwtVerify(tokens.id_token!, jwks, {
      issuer: server.issuer,
      audience: rsa.id,
      algorithms: ['RS256'],
    });
    assert.equal(idToken.protectedHeader.alg, 'RS256');
    assert.equal(idToken.payload.sub, bank.alice.id);
    assert.equal(decodeProtectedHeader(tokens.access_token).alg, 'ES256');

    // UserInfo: a JWT signed with RS256, verified against the JWKS.
    const res = await fetch(rp.serverMetadata().userinfo_endpoint!, {
      headers: { authorization: `Bearer ${await userinfoAccessToken(rsa, rp)}` },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type')?.split(';')[0], 'application/jwt');
    const jwt = await res.text();
    const { payload, protectedHeader } = await jwtVerify(jwt, jwks, {
      issuer: server.issuer,
      audience: rsa.id,
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sub, bank.alice.id);
  });

  /** An access token for UserInfo (no resource: the token is for the userinfo endpoint). */
  async function userinfoAccessToken(client: { id: string }, rp: oidc.Configuration) {
    const { redirect, verifier } = await loginForCode(new HttpBrowser(), {
      issuer: server.issuer,
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      scope: 'openid profile',
      email: 'alice@example.com',
      password: PASSWORD,
    });
    const tokens = await oidc.authorizationCodeGrant(rp, redirect!, {
      pkceCodeVerifier: verifier,
      expectedState: redirect!.searchParams.get('state')!,
    });
    return tokens.access_token;
  }

  test('a client that chose nothing gets ID tokens of the default algorithm', async () => {
    const rp = await bank.rp();
    const tokens = await signIn(bank.client, rp);
    const { protectedHeader } = await jwtVerify(
      tokens.id_token!,
      createLocalJWKSet(await jwksOf(server)),
      { issuer: server.issuer, audience: bank.client.id },
    );
    assert.equal(protectedHeader.alg, 'ES256');
    const claims = tokens.claims()!;
    assert.equal(claims.sub, bank.alice.id);
  });

  test('a fapi2 client is refused RS256, and nothing is written', async () => {
    const { clients } = server.app.services;
    const before = (await clients.list()).length;
    const key = signingKey('PS256');
    for (const field of ['idTokenAlg', 'userinfoAlg', 'authorizationAlg', 'introspectionAlg']) {
      await assert.rejects(
        clients.create({
          name: 'Open banking TPP',
          grantTypes: ['authorization_code'],
          redirectUris: [REDIRECT_URI],
          authMethod: 'private_key_jwt',
          jwks: { keys: [key.publicJwk] },
          apiAccess: { [BANK_API]: ['accounts:read'] },
          profile: 'fapi2',
          [field]: 'RS256',
        }),
        (err: unknown) =>
          err instanceof DomainError &&
          err.code === 'invalid_input' &&
          err.field === field &&
          err.message ===
            "a fapi2 client's responses are signed with PS256, ES256, Ed25519, EdDSA only (not RS256)",
      );
    }
    assert.equal((await clients.list()).length, before);
  });

  test('dynamic registration: an RS256 client registers; a fapi2 one is refused RS256, nothing written', async () => {
    const register = async (profile: 'fapi2' | undefined, body: Record<string, unknown>) => {
      const { token } = await server.app.services.registration.issue({
        description: 'Relying party',
        apiAccess: { [BANK_API]: ['accounts:read'] },
        expiresInSeconds: 600,
        singleUse: true,
        createdBy: 'test',
        ...(profile ? { profile } : {}),
      });
      const res = await fetch(server.url('/reg'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          client_name: 'Relying party',
          redirect_uris: [REDIRECT_URI],
          grant_types: ['authorization_code'],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [signingKey('PS256').publicJwk] },
          ...body,
        }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const legacy = await register(undefined, { id_token_signed_response_alg: 'RS256' });
    assert.equal(legacy.status, 201, JSON.stringify(legacy.body));
    assert.equal(legacy.body.id_token_signed_response_alg, 'RS256');
    const stored = await server.app.services.clients.get(legacy.body.client_id as string);
    assert.deepEqual(stored?.signing, { idTokenAlg: 'RS256' });

    const before = (await server.app.services.clients.list()).length;
    const refused = await register('fapi2', { id_token_signed_response_alg: 'RS256' });
    assert.deepEqual(refused, {
      status: 400,
      body: {
        error: 'invalid_client_metadata',
        error_description:
          "id_token_signed_response_alg: a fapi2 client's responses are signed with PS256, ES256, Ed25519, EdDSA only (not RS256)",
      },
    });
    assert.equal((await server.app.services.clients.list()).length, before, 'nothing written');
  });

  test('an algorithm outside the ring is refused, and nothing is written', async () => {
    const { clients } = server.app.services;
    await assert.rejects(
      clients.setResponseSigning(rsa.id, { idTokenAlg: 'PS256' }),
      (err: unknown) =>
        err instanceof DomainError &&
        err.field === 'idTokenAlg' &&
        err.message === 'id_token_signed_response_alg must be one of ES256, RS256',
    );
    assert.deepEqual((await clients.get(rsa.id))!.signing, {
      idTokenAlg: 'RS256',
      userinfoAlg: 'RS256',
    });
  });

  test("rotating the RS256 key replaces it alone; the default algorithm's key keeps signing", async () => {
    const keys = server.app.services.signingKeys;
    const before = await keys.list();
    const oldRsa = before.find((k) => k.alg === 'RS256' && k.status === 'active')!;
    const es = before.find((k) => k.alg === 'ES256' && k.status === 'active')!;
    await assert.rejects(keys.rotate({ alg: 'HS256' }), (err: unknown) => {
      return (
        err instanceof DomainError &&
        err.message === "alg must be one of the ring's algorithms: ES256, RS256"
      );
    });
    assert.equal((await keys.list()).length, before.length, 'nothing was written');

    const { key } = await keys.rotate({ alg: 'RS256' });
    assert.equal(key.alg, 'RS256');
    const statuses = Object.fromEntries((await keys.list()).map((k) => [k.kid, k.status]));
    assert.deepEqual(statuses, {
      [key.kid]: 'active',
      [oldRsa.kid]: 'previous',
      [es.kid]: 'active',
    });
    const after = await keys.list();
    assert.equal(after.find((k) => k.kid === es.kid)!.retiresAt, null, 'ES256 keeps no end');
    assert.ok(after.find((k) => k.kid === oldRsa.kid)!.retiresAt, 'the old RS256 key retires');

    // The server picks the new ring up (KEYS_REFRESH_SECONDS=1) and signs RS256 with the new key.
    const rp = await rpFor(rsa, { id_token_signed_response_alg: 'RS256' });
    let header: { kid?: string } = {};
    for (let i = 0; i < 50 && header.kid !== key.kid; i++) {
      if (i) await sleep(200);
      if ((await jwksOf(server)).keys.some((k) => k.kid === key.kid))
        header = decodeProtectedHeader((await signIn(rsa, rp)).id_token!);
    }
    assert.equal(header.kid, key.kid);
    const bankTokens = await signIn(bank.client, await bank.rp());
    assert.equal(decodeProtectedHeader(bankTokens.id_token!).kid, es.kid);
    // Both RS256 keys stay published until what the old one signed has expired.
    const published = (await jwksOf(server)).keys.map((k) => k.kid).sort();
    assert.deepEqual(published, [key.kid, oldRsa.kid, es.kid].sort());
  });

  test('revoking the RS256 signing key: a new RS256 key signs at once, the ES256 key is untouched', async () => {
    const keys = server.app.services.signingKeys;
    const before = await keys.list();
    const rsaKey = before.find((k) => k.alg === 'RS256' && k.status === 'active')!;
    const es = before.find((k) => k.alg === 'ES256' && k.status === 'active')!;
    const { wasActive, replacement } = await keys.revoke(rsaKey.kid);
    assert.equal(wasActive, true);
    assert.equal(replacement?.alg, 'RS256');
    assert.equal(replacement?.status, 'active');
    const after = Object.fromEntries((await keys.list()).map((k) => [k.kid, k]));
    assert.equal(after[rsaKey.kid]!.status, 'revoked');
    assert.equal(after[es.kid]!.status, 'active');
    assert.equal(after[es.kid]!.retiresAt, null, 'the ES256 key keeps no end');
    await server.app.refreshKeys();
    const published = (await jwksOf(server)).keys.map((k) => k.kid);
    assert.ok(!published.includes(rsaKey.kid), 'the revoked key is unpublished');
    assert.ok(published.includes(replacement!.kid) && published.includes(es.kid));
    const rp = await rpFor(rsa, { id_token_signed_response_alg: 'RS256' });
    const tokens = await signIn(rsa, rp);
    assert.equal(decodeProtectedHeader(tokens.id_token!).kid, replacement!.kid);
  });
});

describe('signing algorithms under FAPI_PROFILE=2.0', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { FAPI_PROFILE: '2.0' } });
  });
  after(() => server.close());

  test('the ring keeps its RS256 key, but discovery offers no client RS256', async () => {
    const meta = (await (
      await fetch(server.url('/.well-known/openid-configuration'))
    ).json()) as Record<string, unknown>;
    for (const member of [
      'id_token_signing_alg_values_supported',
      'userinfo_signing_alg_values_supported',
      'authorization_signing_alg_values_supported',
      'introspection_signing_alg_values_supported',
    ])
      assert.deepEqual(meta[member], ['ES256'], member);
    const algs = (await server.app.services.signingKeys.list()).map((k) => k.alg).sort();
    assert.deepEqual(algs, ['ES256', 'RS256']);
  });
});
