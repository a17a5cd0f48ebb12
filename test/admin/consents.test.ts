// Consents in the admin API (admin:consents): listing by person, client and status a page at a
// time, showing one, and revoking, which also deletes the consent's grant and what was issued
// from it (the refresh token stops working); refusals leave the consent as it was.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PAYMENT, seedConsentWorld } from '../consents/world.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { adminApi, assertProblem } from './helpers.ts';

describe('admin API: consents', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let w: Awaited<ReturnType<typeof seedConsentWorld>>;
  let token: string;

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    w = await seedConsentWorld(server);
    token = await api.machineToken(['admin:consents']);
  });
  after(() => server.close());

  /** A grant with a refresh token issued from it, as the token endpoint stores them. */
  async function grantWithRefreshToken(grantId: string, accountId: string, clientId: string) {
    const { artifacts } = server.app.services;
    const expiresAt = new Date(Date.now() + 3600_000);
    const base = { sessionUid: null, userCode: null, accountId, clientId, expiresAt };
    await artifacts.upsert({
      ...base,
      model: 'Grant',
      key: grantId,
      grantId,
      payload: { clientId },
    });
    await artifacts.upsert({
      ...base,
      model: 'RefreshToken',
      key: `rt-${grantId}`,
      grantId,
      payload: { clientId, grantId },
    });
  }

  test('list filters by person, client and status, newest first, a page at a time', async () => {
    const a1 = await w.authorised();
    const a2 = await w.authorised();
    const b1 = await w.authorised([PAYMENT], w.bob.id);
    const all = await api.call('GET', `/consents?account=${w.alice.id}`, { token });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    const ids = all.body.consents.map((c: { id: string }) => c.id);
    assert.ok(ids.includes(a1.id) && ids.includes(a2.id));
    assert.ok(!ids.includes(b1.id));
    assert.ok(ids.indexOf(a2.id) < ids.indexOf(a1.id), 'newest first');

    const bobs = await api.call('GET', `/consents?account=${w.bob.id}&status=authorised`, {
      token,
    });
    assert.deepEqual(
      bobs.body.consents.map((c: { id: string }) => c.id),
      [b1.id],
    );
    assert.deepEqual(bobs.body.consents[0], {
      id: b1.id,
      status: 'authorised',
      clientId: w.app.clientId,
      accountId: w.bob.id,
      grantId: b1.grantId,
      types: ['payment_initiation'],
      authorizationDetails: [PAYMENT],
      canonicalHash: b1.canonicalHash,
      createdAt: b1.createdAt.toISOString(),
      authorisedAt: b1.authorisedAt!.toISOString(),
      expiresAt: b1.expiresAt!.toISOString(),
      consumedAt: null,
      consumedBy: null,
      revokedAt: null,
      revokedBy: null,
    });

    const page1 = await api.call('GET', `/consents?client=${w.app.clientId}&limit=2`, { token });
    assert.equal(page1.body.consents.length, 2);
    assert.equal(page1.body.next, 2);
    const page2 = await api.call('GET', `/consents?client=${w.app.clientId}&limit=2&offset=2`, {
      token,
    });
    assert.ok(page2.body.consents.length >= 1);
    assert.ok(!page2.body.consents.some((c: { id: string }) => c.id === page1.body.consents[0].id));

    const none = await api.call('GET', '/consents?client=nobody', { token });
    assert.deepEqual(none.body, { consents: [], limit: 50, offset: 0, next: null });

    const bad = await api.call('GET', '/consents?status=happy', { token });
    assertProblem(bad, 400, 'validation');
    assert.equal(bad.body.errors[0].parameter, 'status');
  });

  test('show one; unknown ids 404, malformed ones 400', async () => {
    const c = await w.authorised();
    const shown = await api.call('GET', `/consents/${c.id}`, { token });
    assert.equal(shown.status, 200);
    assert.equal(shown.body.id, c.id);
    assert.deepEqual(shown.body.authorizationDetails, c.details);
    const unknown = await api.call('GET', '/consents/cns_AAAAAAAAAAAAAAAAAAAAAA', { token });
    assertProblem(unknown, 404, 'not_found', 'no consent cns_AAAAAAAAAAAAAAAAAAAAAA');
    const malformed = await api.call('GET', '/consents/nope', { token });
    assertProblem(malformed, 400, 'validation');
  });

  test('revoke ends the consent, its grant and its refresh token; audited with who', async () => {
    const c = await w.authorised();
    await grantWithRefreshToken(c.grantId!, w.alice.id, w.app.clientId);
    const { artifacts, consents, audit } = server.app.services;
    const reply = await api.call('POST', `/consents/${c.id}/revoke`, { token });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.status, 'revoked');
    assert.ok(reply.body.revokedAt);
    assert.equal(reply.body.tokensRevoked, 2);
    assert.equal(await artifacts.find('RefreshToken', `rt-${c.grantId}`), undefined);
    assert.equal(await artifacts.find('Grant', c.grantId!), undefined);
    assert.equal((await consents.find(c.id))?.status, 'revoked');

    const event = (await audit.query({ action: 'consent.revoked', targetId: c.id })).events.at(-1)!;
    assert.equal(event.actor.type, 'client');
    assert.deepEqual(event.target, { type: 'consent', id: c.id });
    assert.deepEqual(event.details, {
      types: ['payment_initiation'],
      grants: 1,
      tokens: 2,
      via: 'admin-api',
    });

    // Revoked already: answered as it is, nothing changes, no second event.
    const before = await consents.find(c.id);
    const again = await api.call('POST', `/consents/${c.id}/revoke`, { token });
    assert.equal(again.status, 200);
    assert.equal(again.body.tokensRevoked, 0);
    assert.equal(again.body.revokedAt, reply.body.revokedAt);
    assert.deepEqual(await consents.find(c.id), before);
    const events = await audit.query({ action: 'consent.revoked', targetId: c.id });
    assert.equal(events.events.length, 1);
  });

  test('a consumed consent cannot be revoked; an account-access one can', async () => {
    const { consents } = server.app.services;
    const paid = await w.authorised();
    const consumed = await consents.consume(paid.id, 'payment-engine');
    const refused = await api.call('POST', `/consents/${paid.id}/revoke`, { token });
    assertProblem(refused, 409, 'conflict', 'the consent is already consumed');
    assert.deepEqual(await consents.find(paid.id), consumed);

    const access = await w.authorised([
      {
        type: 'account_information',
        accounts: 'all',
        access: ['balances'],
        expirationDateTime: new Date(Date.now() + 30 * 86400_000).toISOString(),
      },
    ]);
    const ok = await api.call('POST', `/consents/${access.id}/revoke`, { token });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status, 'revoked');
  });

  test('without admin:consents: 403 insufficient_scope, nothing revoked', async () => {
    const c = await w.authorised();
    const users = await api.machineToken(['admin:users']);
    const reply = await api.call('POST', `/consents/${c.id}/revoke`, { token: users });
    assertProblem(reply, 403, 'insufficient_scope', 'this request needs the scope admin:consents');
    assert.deepEqual(await server.app.services.consents.find(c.id), c);
    const list = await api.call('GET', '/consents', { token: users });
    assertProblem(list, 403, 'insufficient_scope');
  });

  test('the OpenAPI document describes the consent routes', async () => {
    const doc = (await api.call('GET', '/openapi.json')).body;
    assert.equal(doc.paths['/consents'].get['x-required-scope'], 'admin:consents');
    assert.equal(doc.paths['/consents/{consentId}'].get.operationId, 'getConsent');
    assert.equal(doc.paths['/consents/{consentId}/revoke'].post.operationId, 'revokeConsent');
    assert.ok(doc.components.schemas.ConsentPage);
  });
});
