// A token leaves only once its `token.issued` event is committed: responses of the protocol wait
// for the audit writes of their request (src/oidc/auditGate.ts), and a write that fails answers
// 503 `temporarily_unavailable` with no token in it; sign-in pages and the admin API answer 503
// in their own formats when their event cannot be written.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { adminApi } from '../admin/helpers.ts';
import { HttpBrowser } from '../support/browserless.ts';
import { seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const API = 'https://gate.api.example';

describe('audit gate', () => {
  let server: TestServer;
  let client: { id: string; secret: string };
  let adminToken: string;
  let bank: Awaited<ReturnType<typeof seedBank>>;
  const logs: string[] = [];
  const knex = () => server.app.db.knex;
  const issuedEvents = async () =>
    Number(
      (await knex()('audit_events').where({ action: 'token.issued' }).count({ n: '*' }))[0]!.n,
    );
  const tokenRequest = () =>
    fetch(server.url('/token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: API }),
    });

  before(async () => {
    server = await startTestServer({ logs });
    await server.app.services.catalogue.create({
      identifier: API,
      name: 'Gate',
      tokenFormat: 'opaque',
      scopes: [{ name: 'gate:read', description: 'Read' }],
    });
    const created = await server.app.services.clients.create({
      name: 'Gate batch job',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [API]: ['gate:read'] },
    });
    client = { id: created.client.clientId, secret: created.secret! };
    adminToken = await adminApi(server).machineToken();
    bank = await seedBank(server);
    await knex().raw(`
      create function test_audit_trap() returns trigger language plpgsql as $$
      begin
        if tg_argv[0] = 'refuse' then raise exception 'audit insert refused by the test'; end if;
        perform pg_sleep(0.2);
        return new;
      end $$`);
  });
  after(() => server.close());
  beforeEach(async () => {
    await knex().raw('drop trigger if exists audit_trap on audit_events');
  });
  const refuseAuditWrites = () =>
    knex().raw(
      `create trigger audit_trap before insert on audit_events
       for each row execute function test_audit_trap('refuse')`,
    );
  const eventCount = async () => Number((await knex()('audit_events').count({ n: '*' }))[0]!.n);

  test('every token a client received has its token.issued event when the response arrives', async () => {
    // A slow audit write: on the old code the response left before the event was committed.
    await knex().raw(
      `create trigger audit_trap before insert on audit_events
       for each row execute function test_audit_trap('slow')`,
    );
    const config = await oidc.discovery(
      new URL(server.issuer),
      client.id,
      {},
      oidc.ClientSecretBasic(client.secret),
      { execute: [oidc.allowInsecureRequests] },
    );
    const before = await issuedEvents();
    const results = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const tokens = await oidc.clientCredentialsGrant(config, { resource: API });
        // Counted the moment this client holds its token.
        return { token: tokens.access_token, events: await issuedEvents() };
      }),
    );
    const tokens = new Set(results.map((r) => r.token));
    assert.equal(tokens.size, 20);
    for (const [i, r] of results.entries())
      assert.ok(r.events - before >= 1, `token ${i} arrived before any token.issued event`);
    assert.equal((await issuedEvents()) - before, tokens.size);
  });

  test('when the audit write fails, /token answers 503 temporarily_unavailable and no token leaves', async () => {
    await knex().raw(
      `create trigger audit_trap before insert on audit_events
       for each row execute function test_audit_trap('refuse')`,
    );
    const eventsBefore = Number((await knex()('audit_events').count({ n: '*' }))[0]!.n);
    logs.length = 0;
    const res = await tokenRequest();
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '2');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), {
      error: 'temporarily_unavailable',
      error_description: 'The service is temporarily unavailable. Please try again in a moment.',
    });
    assert.doesNotMatch(text, /access_token/);
    assert.equal(Number((await knex()('audit_events').count({ n: '*' }))[0]!.n), eventsBefore);
    // One line says why, without a stack; the failed write is logged with its action.
    const unavailable = logs.filter((l) => l.includes('"service unavailable"'));
    assert.equal(unavailable.length, 1);
    assert.match(unavailable[0]!, /"what":"audit log"/);
    assert.ok(
      logs.some((l) => /"action":"token.issued".*"audit write failed"/.test(l)),
      'the failed write is logged',
    );
    assert.ok(!logs.some((l) => /\bat \S+:\d+:\d+/.test(l)), 'no stack frame is logged');

    // Once the audit log takes writes again, tokens flow (and are recorded) again.
    await knex().raw('drop trigger audit_trap on audit_events');
    const before = await issuedEvents();
    const ok = await tokenRequest();
    assert.equal(ok.status, 200);
    assert.ok(((await ok.json()) as { access_token?: string }).access_token);
    assert.equal((await issuedEvents()) - before, 1);
  });

  test('an admin change whose event cannot be written answers 503 problem JSON', async () => {
    await refuseAuditWrites();
    const before = await eventCount();
    const res = await fetch(server.url('/admin/v1/roles'), {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'auditors', scopes: [] }),
    });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '2');
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.type, 'urn:portcullis:problem:unavailable');
    assert.equal(
      body.detail,
      'The service is temporarily unavailable. Please try again in a moment.',
    );
    assert.equal(await eventCount(), before);
  });

  test('a sign-in whose event cannot be written answers the 503 page', async () => {
    const browser = new HttpBrowser({ accept: 'text/html' });
    const login = await browser.open(bank.authorizationUrl({ state: 'gate-state' }), server.issuer);
    assert.match(login.html, /autocomplete="current-password"/);
    await refuseAuditWrites();
    const before = await eventCount();
    const page = await browser.submit(login, /\/login$/, {
      email: bank.alice.email,
      password: 'not the password',
    });
    assert.equal(page.status, 503);
    assert.match(page.html, /Temporarily unavailable/);
    assert.doesNotMatch(page.html, /audit|select|Error:/);
    assert.equal(await eventCount(), before);
  });
});
