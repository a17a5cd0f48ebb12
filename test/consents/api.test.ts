// The consent API of resource servers over real HTTP: client-credentials tokens from the token
// endpoint (openid-client), every refusal with its exact status and title and the consent row
// unchanged, atomic and idempotent consumption, and the audit events.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../../src/clock.ts';
import { assertProblem } from '../admin/helpers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { ACCOUNTS_API, type Machine, PAYMENTS_API, PLAIN_API, seedConsentWorld } from './world.ts';

const REALM = 'Bearer realm="portcullis-consents"';

describe('consent API for resource servers', () => {
  const clock = manualClock(Date.now());
  let server: TestServer;
  let w: Awaited<ReturnType<typeof seedConsentWorld>>;
  let engine: Machine;
  let other: Machine;
  let token: string;
  let otherToken: string;

  before(async () => {
    server = await startTestServer({ clock });
    w = await seedConsentWorld(server);
    engine = await w.machine({ [PAYMENTS_API]: ['payments:execute', 'payments:read'] });
    other = await w.machine({ [PAYMENTS_API]: ['payments:execute'] }, 'Second engine');
    token = await w.tokenFor(engine, PAYMENTS_API, 'payments:execute');
    otherToken = await w.tokenFor(other, PAYMENTS_API, 'payments:execute');
  });
  after(() => server.close());

  const row = (id: string) => server.app.services.consents.find(id);
  const events = async (action: string) =>
    (await server.app.services.audit.query({ action })).events;

  test('GET shows the consent to its API: details, subject, timestamps', async () => {
    const consent = await w.authorised();
    const reply = await w.call('GET', `/consents/${consent.id}`, token);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    assert.deepEqual(reply.body, {
      id: consent.id,
      status: 'authorised',
      types: ['payment_initiation'],
      authorization_details: consent.details,
      client_id: w.app.clientId,
      subject: w.alice.id,
      created_at: consent.createdAt.toISOString(),
      authorised_at: consent.authorisedAt!.toISOString(),
      expires_at: consent.expiresAt!.toISOString(),
      consumed_at: null,
    });
  });

  test('without a token: 401 with the challenge of the realm', async () => {
    const consent = await w.authorised();
    const reply = await w.call('POST', `/consents/${consent.id}/consume`);
    assertProblem(reply, 401, 'unauthorized', 'an access token is required');
    assert.equal(reply.body.title, 'Unauthorized');
    assert.equal(reply.headers.get('www-authenticate'), REALM);
    assert.deepEqual(await row(consent.id), consent);
  });

  test('an invalid token: 401 invalid_token, nothing consumed', async () => {
    const consent = await w.authorised();
    const reply = await w.call('POST', `/consents/${consent.id}/consume`, `${token}x`);
    assertProblem(reply, 401, 'invalid_token', 'the access token signature is not valid');
    assert.equal(reply.body.title, 'Invalid access token');
    assert.equal(
      reply.headers.get('www-authenticate'),
      `${REALM}, error="invalid_token", error_description="the access token signature is not valid"`,
    );
    assert.deepEqual(await row(consent.id), consent);
  });

  test("a token of an API without consents: 403 'Token for another API'", async () => {
    const consent = await w.authorised();
    const plain = await w.machine({ [PLAIN_API]: ['plain:read'] }, 'Plain');
    const reply = await w.call(
      'POST',
      `/consents/${consent.id}/consume`,
      await w.tokenFor(plain, PLAIN_API),
    );
    assertProblem(
      reply,
      403,
      'forbidden',
      'the access token is for an API that declares no authorization detail types',
    );
    assert.equal(reply.body.title, 'Token for another API');
    assert.deepEqual(await row(consent.id), consent);
  });

  test("a token without the API's consent scope: 403 insufficient_scope", async () => {
    const consent = await w.authorised();
    const reader = await w.tokenFor(engine, PAYMENTS_API, 'payments:read');
    const reply = await w.call('POST', `/consents/${consent.id}/consume`, reader);
    assertProblem(
      reply,
      403,
      'insufficient_scope',
      'this request needs the scope payments:execute',
    );
    assert.equal(reply.body.title, 'Insufficient scope');
    assert.equal(
      reply.headers.get('www-authenticate'),
      `${REALM}, error="insufficient_scope", scope="payments:execute"`,
    );
    assert.deepEqual(await row(consent.id), consent);
  });

  test("a person's token: 403 'Client credentials required'", async () => {
    const consent = await w.authorised();
    const personal = await w.forge({
      aud: PAYMENTS_API,
      sub: w.alice.id,
      client_id: engine.id,
      scope: 'payments:execute',
    });
    const reply = await w.call('POST', `/consents/${consent.id}/consume`, personal);
    assertProblem(
      reply,
      403,
      'forbidden',
      "the consent API takes a client's own token (client credentials), not a person's",
    );
    assert.equal(reply.body.title, 'Client credentials required');
    assert.deepEqual(await row(consent.id), consent);
  });

  test('unknown consents and consents of another API: the same 404', async () => {
    const unknown = await w.call('GET', '/consents/cns_AAAAAAAAAAAAAAAAAAAAAA', token);
    assertProblem(unknown, 404, 'not_found', 'no such consent');
    const malformed = await w.call('POST', '/consents/nothing/consume', token);
    assertProblem(malformed, 404, 'not_found', 'no such consent');
    const access = await w.authorised([
      {
        type: 'account_information',
        accounts: 'all',
        access: ['balances'],
        expirationDateTime: new Date(clock.now() + 30 * 86400_000).toISOString(),
      },
    ]);
    const otherApi = await w.call('POST', `/consents/${access.id}/consume`, token);
    assertProblem(otherApi, 404, 'not_found', 'no such consent');
    assert.deepEqual(await row(access.id), access);
    // Its own API sees it.
    const reader = await w.machine({ [ACCOUNTS_API]: ['accounts:consents'] }, 'Accounts');
    const own = await w.call(
      'GET',
      `/consents/${access.id}`,
      await w.tokenFor(reader, ACCOUNTS_API),
    );
    assert.equal(own.status, 200);
    assert.equal(own.body.status, 'authorised');
  });

  test('consume: 200 and consumed, again by the same caller 200, by another 409', async () => {
    const consent = await w.authorised();
    const first = await w.call('POST', `/consents/${consent.id}/consume`, token);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.status, 'consumed');
    assert.ok(first.body.consumed_at);
    const again = await w.call('POST', `/consents/${consent.id}/consume`, token);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
    const consumed = await row(consent.id);
    assert.equal(consumed?.consumedBy, engine.id);

    const refused = await w.call('POST', `/consents/${consent.id}/consume`, otherToken);
    assertProblem(refused, 409, 'consent_consumed', 'the consent is already consumed');
    assert.equal(refused.body.title, 'Consent already consumed');
    assert.deepEqual(await row(consent.id), consumed);

    const done = (await events('consent.consumed')).filter((e) => e.target?.id === consent.id);
    assert.equal(done.length, 1);
    assert.deepEqual(done[0]!.actor, { type: 'client', id: engine.id });
    assert.deepEqual(done[0]!.details, { api: PAYMENTS_API, types: ['payment_initiation'] });
    const refusals = (await events('consent.consume_refused')).filter(
      (e) => e.target?.id === consent.id,
    );
    assert.equal(refusals.length, 1);
    assert.deepEqual(refusals[0]!.actor, { type: 'client', id: other.id });
    assert.deepEqual(refusals[0]!.details, {
      api: PAYMENTS_API,
      types: ['payment_initiation'],
      status: 'consumed',
      reason: 'state',
    });
  });

  test('concurrent consumes: the same caller twice both 200; two callers one 200, one 409', async () => {
    const mine = await w.authorised();
    const both = await Promise.all([
      w.call('POST', `/consents/${mine.id}/consume`, token),
      w.call('POST', `/consents/${mine.id}/consume`, token),
    ]);
    assert.deepEqual(
      both.map((r) => r.status),
      [200, 200],
    );
    assert.equal(both[0]!.body.consumed_at, both[1]!.body.consumed_at);

    const contested = await w.authorised();
    const race = await Promise.all([
      w.call('POST', `/consents/${contested.id}/consume`, token),
      w.call('POST', `/consents/${contested.id}/consume`, otherToken),
    ]);
    assert.deepEqual(race.map((r) => r.status).sort(), [200, 409]);
    const winner = race[0]!.status === 200 ? engine.id : other.id;
    assert.equal((await row(contested.id))?.consumedBy, winner);
  });

  test('revoked and expired consents: 409 naming the status, nothing changes', async () => {
    const revoked = await w.authorised();
    const after = await server.app.services.consents.revoke(
      revoked.id,
      { type: 'user', id: w.alice.id },
      w.alice.id,
    );
    const refused = await w.call('POST', `/consents/${revoked.id}/consume`, token);
    assertProblem(refused, 409, 'consent_revoked', 'the consent was revoked');
    assert.equal(refused.body.title, 'Consent revoked');
    assert.deepEqual(await row(revoked.id), after);
    // Still readable: the API may show why it will not execute.
    const shown = await w.call('GET', `/consents/${revoked.id}`, token);
    assert.equal(shown.body.status, 'revoked');

    const expiring = await w.authorised();
    clock.advance(3600_000);
    const late = await w.call('POST', `/consents/${expiring.id}/consume`, token);
    assertProblem(late, 409, 'consent_expired', 'the consent has expired');
    assert.equal(late.body.title, 'Consent expired');
    assert.equal((await row(expiring.id))?.consumedAt, null);
  });

  test('other methods: 405 with Allow, as problems', async () => {
    const consent = await w.authorised();
    const put = await w.call('PUT', `/consents/${consent.id}`, token);
    assertProblem(put, 405, 'method_not_allowed');
    assert.equal(put.headers.get('allow'), 'GET');
    const get = await w.call('GET', `/consents/${consent.id}/consume`, token);
    assertProblem(get, 405, 'method_not_allowed');
    assert.equal(get.headers.get('allow'), 'POST');
  });
});
