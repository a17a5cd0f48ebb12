// FAPI-CIBA for fapi2 clients (hand-written client, src/oidc/profiles.ts): a CIBA client must
// sign its authentication requests, an unsigned one is refused with nothing recorded, and its
// tokens are DPoP-bound like every fapi2 client's.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { generateSync } from 'otplib';
import { DomainError } from '../../src/errors.ts';
import { CIBA_GRANT_TYPE } from '../../src/oidc/cibaClients.ts';
import { HttpBrowser } from '../support/browserless.ts';
import {
  assertError,
  assertionFields,
  clientAssertion,
  dpopProof,
  now,
  type Reply,
  send,
  signingKey,
  signJws,
} from '../support/fapi.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { BANK, seedCustomer } from './accountPage.ts';

const API = BANK;
const SECRET = 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U';

describe('FAPI-CIBA (fapi2 clients)', () => {
  let server: TestServer;
  const key = signingKey('ES256');
  let clientId: string;

  const auth = () => assertionFields(clientId, clientAssertion(key, clientId, server.issuer));
  const approvalCount = async () => {
    const [row] = await server.db.knex('ciba_approvals').count<{ count: string }[]>('* as count');
    return Number(row!.count);
  };
  const definition = (backchannel: Record<string, string>) => ({
    name: 'Bank Branch',
    profile: 'fapi2' as const,
    grantTypes: [CIBA_GRANT_TYPE],
    authMethod: 'private_key_jwt' as const,
    jwks: { keys: [key.publicJwk] },
    apiAccess: { [API]: ['accounts:read'] },
    backchannel,
  });

  before(async () => {
    server = await startTestServer();
    await seedCustomer(server, 'carol@example.com', SECRET);
  });
  after(() => server.close());

  test('a fapi2 CIBA client must sign its requests', async () => {
    const { clients } = server.app.services;
    await assert.rejects(
      clients.create(definition({ mode: 'poll' })),
      (err: unknown) =>
        err instanceof DomainError &&
        err.field === 'backchannel' &&
        /signs its backchannel authentication requests/.test(err.message),
    );
    assert.equal((await clients.list()).filter((c) => c.name === 'Bank Branch').length, 0);
    const created = await clients.create(definition({ mode: 'poll', signingAlg: 'ES256' }));
    clientId = created.client.clientId;
    assert.equal(created.client.senderConstraint, 'dpop');
    assert.equal(created.client.backchannel?.signingAlg, 'ES256');
  });

  test('an unsigned authentication request is refused; nothing is recorded', async () => {
    const before = await approvalCount();
    const r = await send(server, '/backchannel', {
      ...auth(),
      scope: 'openid accounts:read',
      login_hint: 'carol@example.com',
    });
    assertError(r, 400, 'invalid_request');
    assert.equal(await approvalCount(), before);
  });

  test('a signed request, approved: tokens only with a DPoP proof, bound to its key', async () => {
    const iat = now();
    const request = signJws(
      { alg: 'ES256', kid: key.publicJwk.kid, typ: 'oauth-authz-req+jwt' },
      {
        iss: clientId,
        aud: server.issuer,
        iat,
        nbf: iat,
        exp: iat + 300,
        jti: randomUUID(),
        scope: 'openid accounts:read',
        login_hint: 'carol@example.com',
        binding_message: 'FAPI 1',
      },
      key.privateKey,
      'ES256',
    );
    const started = await send(server, '/backchannel', { ...auth(), request });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const authReqId = started.body.auth_req_id as string;

    const browser = new HttpBrowser();
    const login = await browser.open(server.url('/account'));
    await browser.submit(login, /\/login$/, { email: 'carol@example.com', password: PASSWORD });
    const page = await browser.open(server.url('/account/approvals'));
    assert.match(page.html, /FAPI 1/);
    const code = generateSync({ secret: SECRET, epoch: Math.floor(Date.now() / 1000) });
    assert.match((await browser.submit(page, /\/totp$/, { code })).html, /Approved/);

    const grant = { grant_type: CIBA_GRANT_TYPE, auth_req_id: authReqId, resource: API };
    // Without a proof: refused, and the request is not used up.
    assertError(await send(server, '/token', { ...auth(), ...grant }), 400, 'invalid_grant');
    const withProof = async (nonce?: string): Promise<Reply> =>
      send(
        server,
        '/token',
        { ...auth(), ...grant },
        {
          headers: {
            dpop: dpopProof(key, 'POST', server.url('/token'), nonce ? { claims: { nonce } } : {}),
          },
        },
      );
    let r = await withProof();
    if (r.body?.error === 'use_dpop_nonce') r = await withProof(r.headers.get('dpop-nonce')!);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.token_type, 'DPoP');
    assert.equal(r.body.scope, 'accounts:read');
  });
});
