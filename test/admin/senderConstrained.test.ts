// The admin API under FAPI_PROFILE=2.0: `portcullis admin bootstrap --jwks-file` makes a
// private_key_jwt automation client, which gets a DPoP-bound admin token (client_credentials with
// openid-client) and drives the API with fresh proofs. Every broken, misdirected, stale or
// replayed proof, and every downgrade, is a 401 with the exact error that changes nothing.
import assert from 'node:assert/strict';
import { KeyObject, webcrypto } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { clientKey as newClientKey } from '../fapi/world.ts';
import { cliEnv, runCli } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';
import { dpopProof, now, type SigningKey, signingKey } from '../support/fapi.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi, assertProblem, type Reply } from './helpers.ts';

const ALGS = 'PS256 ES256 Ed25519 EdDSA';

/** An ES256 key both as openid-client's CryptoKeyPair and as the hand-made proofs' SigningKey. */
async function dpopKey(): Promise<{ pair: webcrypto.CryptoKeyPair; key: SigningKey }> {
  const pair = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const privateKey = KeyObject.from(pair.privateKey);
  const publicJwk = KeyObject.from(pair.publicKey).export({ format: 'jwk' });
  return {
    pair,
    key: {
      alg: 'ES256',
      privateKey,
      publicJwk: { ...publicJwk, kid: 'dpop' },
      privateJwk: privateKey.export({ format: 'jwk' }),
    },
  };
}

describe('admin API with FAPI_PROFILE=2.0: DPoP-bound admin tokens', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let server: TestServer;
  /** A second instance on the same database and ISSUER: replay detection is shared. */
  let other: TestServer;
  let api: ReturnType<typeof adminApi>;
  let clientKey: Awaited<ReturnType<typeof newClientKey>>;
  let dpop: Awaited<ReturnType<typeof dpopKey>>;
  let clientId: string;
  let token: string;

  const rolesUrl = () => server.url('/admin/v1/roles');
  /** POST /admin/v1/roles creating `name`, with the given Authorization and DPoP headers. */
  async function createRole(
    name: string,
    headers: Record<string, string>,
    base = server,
  ): Promise<Reply> {
    const res = await fetch(base.url('/admin/v1/roles'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ name, scopes: [] }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }
  const roleExists = async (name: string) =>
    (await server.app.services.roles.get(name)) !== undefined;
  const auditedRole = async (name: string) =>
    Number(
      (
        await db
          .knex('audit_events')
          .where({ action: 'role.created', target_id: name })
          .count<{ n: number }[]>('* as n')
      )[0]!.n,
    );
  const proofFor = (method: string, url: string, o: Parameters<typeof dpopProof>[3] = {}) =>
    dpopProof(dpop.key, method, url, { accessToken: token, ...o });

  /** A refused role creation: the problem, the DPoP challenge, nothing leaked, nothing written. */
  async function assertRefused(
    name: string,
    headers: Record<string, string>,
    error: 'invalid_token' | 'invalid_dpop_proof',
    detail: string,
    base = server,
  ) {
    const reply = await createRole(name, headers, base);
    assertProblem(reply, 401, error, detail);
    assert.equal(reply.body.error, error);
    assert.equal(
      reply.headers.get('www-authenticate'),
      `DPoP realm="portcullis-admin", error="${error}", error_description="${detail}", algs="${ALGS}"`,
    );
    const text = JSON.stringify(reply.body) + [...reply.headers.values()].join(' ');
    for (const secret of Object.values(headers)) {
      const credential = secret.split(' ').pop()!;
      assert.ok(!text.includes(credential), 'neither token nor proof is echoed');
    }
    assert.equal(await roleExists(name), false, 'no role was created');
    assert.equal(await auditedRole(name), 0, 'no admin change was audited');
  }

  before(async () => {
    const made = await cliEnv();
    assert.ok(made.db, 'these tests share a PostgreSQL database between the CLI and two servers');
    db = made.db;
    env = { ...made.env, FAPI_PROFILE: '2.0' };
    server = await startTestServer({ db, env });
    other = await startTestServer({ db, env: { ...env, ISSUER: server.issuer } });
    api = adminApi(server);
    dpop = await dpopKey();
    clientKey = await newClientKey('ES256');
  });
  after(async () => {
    await other?.close();
    await server?.close();
    await db?.drop();
  });

  test('bootstrap --jwks-file makes a private_key_jwt, DPoP-bound automation client (no secret)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pc-admin-jwks-'));
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [clientKey.publicJwk] }));
    const result = await runCli(
      ['admin', 'bootstrap', '--email', 'root@example.com', '--jwks-file', file, '--json'],
      { ...env, ISSUER: server.issuer },
      PASSWORD,
    );
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout);
    assert.equal(out.clientSecret, undefined);
    assert.equal(out.client.authMethod, 'private_key_jwt');
    assert.equal(out.client.profile, 'fapi2');
    assert.equal(out.client.senderConstraint, 'dpop');
    clientId = out.client.clientId;
  });

  test('client_credentials with private_key_jwt and DPoP (openid-client); the admin API accepts the token', async () => {
    const config = await oidc.discovery(
      new URL(server.issuer),
      clientId,
      { token_endpoint_auth_signing_alg: 'ES256' },
      oidc.PrivateKeyJwt(clientKey.privateKey, {
        [oidc.modifyAssertion]: (header) => {
          header.kid = clientKey.kid;
        },
      }),
      { execute: [oidc.allowInsecureRequests] },
    );
    const handle = oidc.getDPoPHandle(config, dpop.pair);
    const tokens = await oidc.clientCredentialsGrant(
      config,
      { resource: api.audience, scope: 'admin:roles' },
      { DPoP: handle },
    );
    assert.equal(tokens.token_type, 'dpop');
    token = tokens.access_token;
    assert.ok((decodeJwt(token).cnf as { jkt?: string }).jkt, 'the token is DPoP-bound');

    const list = await oidc.fetchProtectedResource(
      config,
      token,
      new URL(rolesUrl()),
      'GET',
      undefined,
      undefined,
      {
        DPoP: handle,
      },
    );
    assert.equal(list.status, 200);
    const created = await createRole('auditors', {
      authorization: `DPoP ${token}`,
      dpop: proofFor('POST', rolesUrl()),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(await auditedRole('auditors'), 1);
  });

  test('proofs 10 s either side of now are accepted; a query string does not change htu', async () => {
    for (const [offset, name] of [
      [-10, 'early'],
      [10, 'late'],
    ] as const) {
      const reply = await createRole(name, {
        authorization: `DPoP ${token}`,
        dpop: proofFor('POST', `${rolesUrl()}?x=1#f`, { claims: { iat: now() + offset } }),
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
    }
  });

  test('no proof, or two', async () => {
    await assertRefused(
      'no-proof',
      { authorization: `DPoP ${token}` },
      'invalid_dpop_proof',
      'a DPoP-bound access token needs a DPoP proof',
    );
    const proof = proofFor('POST', rolesUrl());
    await assertRefused(
      'two-proofs',
      { authorization: `DPoP ${token}`, dpop: `${proof}, ${proofFor('POST', rolesUrl())}` },
      'invalid_dpop_proof',
      'send exactly one DPoP proof, a compact JWS',
    );
  });

  test('a proof for another method or another URL', async () => {
    await assertRefused(
      'wrong-htm',
      { authorization: `DPoP ${token}`, dpop: proofFor('GET', rolesUrl()) },
      'invalid_dpop_proof',
      'the DPoP proof htm does not match the request method',
    );
    for (const [name, htu] of [
      ['wrong-path', server.url('/admin/v1/users')],
      ['wrong-origin', `http://evil.example${new URL(rolesUrl()).pathname}`],
    ]) {
      await assertRefused(
        name!,
        { authorization: `DPoP ${token}`, dpop: proofFor('POST', htu!) },
        'invalid_dpop_proof',
        'the DPoP proof htu does not match the request URL',
      );
    }
  });

  test('a proof signed by another key (thumbprint mismatch), or with a wrong ath', async () => {
    const stranger = signingKey('ES256');
    await assertRefused(
      'other-key',
      {
        authorization: `DPoP ${token}`,
        dpop: dpopProof(stranger, 'POST', rolesUrl(), { accessToken: token }),
      },
      'invalid_token',
      'the DPoP proof is not signed with the key the access token is bound to',
    );
    await assertRefused(
      'wrong-ath',
      {
        authorization: `DPoP ${token}`,
        dpop: proofFor('POST', rolesUrl(), { accessToken: `${token}x` }),
      },
      'invalid_dpop_proof',
      'the DPoP proof ath does not match the access token',
    );
  });

  test('an expired or future iat, and malformed proofs', async () => {
    const cases: [string, Parameters<typeof dpopProof>[3], string][] = [
      ['expired', { claims: { iat: now() - 120 } }, 'the DPoP proof has expired (iat is too old)'],
      ['future', { claims: { iat: now() + 60 } }, 'the DPoP proof iat is in the future'],
      ['no-iat', { claims: { iat: undefined } }, 'the DPoP proof needs an iat'],
      ['no-jti', { claims: { jti: undefined } }, 'the DPoP proof needs a jti'],
      ['no-typ', { header: { typ: undefined } }, 'the DPoP proof typ must be dpop+jwt'],
      [
        'alg-none',
        { signAs: 'none' },
        `the DPoP proof must be signed with PS256, ES256, Ed25519, EdDSA`,
      ],
      [
        'rs256',
        { signAs: 'RS256' },
        'the DPoP proof must be signed with PS256, ES256, Ed25519, EdDSA',
      ],
      ['no-jwk', { header: { jwk: undefined } }, 'the DPoP proof needs a public jwk in its header'],
      [
        'bad-signature',
        { header: { jwk: { ...signingKey('ES256').publicJwk, kid: undefined } } },
        'the DPoP proof signature is not valid',
      ],
    ];
    for (const [name, change, detail] of cases) {
      await assertRefused(
        name,
        { authorization: `DPoP ${token}`, dpop: proofFor('POST', rolesUrl(), change) },
        'invalid_dpop_proof',
        detail,
      );
    }
  });

  test('a replayed jti is refused, on this instance and on another', async () => {
    const proof = proofFor('POST', rolesUrl());
    const first = await createRole('once', { authorization: `DPoP ${token}`, dpop: proof });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    for (const [name, base] of [
      ['replayed-here', server],
      ['replayed-there', other],
    ] as const) {
      await assertRefused(
        name,
        { authorization: `DPoP ${token}`, dpop: proof },
        'invalid_dpop_proof',
        'the DPoP proof has been used before',
        base,
      );
    }
  });

  test('downgrades: the DPoP-bound token as Bearer, a Bearer token with a proof', async () => {
    await assertRefused(
      'as-bearer',
      { authorization: `Bearer ${token}` },
      'invalid_token',
      'a DPoP-bound access token must be sent with the DPoP scheme',
    );
    // An unbound admin token (the token endpoint issues none under FAPI: forged with the server key).
    const bearer = await api.forge({ sub: clientId, client_id: clientId, scope: 'admin:roles' });
    const reply = await createRole('bearer-with-proof', {
      authorization: `Bearer ${bearer}`,
      dpop: dpopProof(dpop.key, 'POST', rolesUrl(), { accessToken: bearer }),
    });
    assertProblem(
      reply,
      401,
      'invalid_token',
      'a DPoP proof goes with a DPoP-bound token and the DPoP scheme, not Bearer',
    );
    assert.equal(await roleExists('bearer-with-proof'), false);
    // An unbound token under the DPoP scheme.
    await assertRefused(
      'unbound-as-dpop',
      {
        authorization: `DPoP ${bearer}`,
        dpop: dpopProof(dpop.key, 'POST', rolesUrl(), { accessToken: bearer }),
      },
      'invalid_token',
      'the access token is not DPoP-bound: send it as Bearer',
    );
  });
});
