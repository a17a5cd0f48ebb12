// While PostgreSQL is out of reach, every endpoint answers a clean 503 in its own format with
// Retry-After (OAuth JSON at the protocol, the HTML error page for pages, problem JSON at the
// admin API), logged as one line, never a 500 or a stack; once it is back, the same server
// answers again without a restart. The database is taken away through a TCP proxy of the test's
// own (never by stopping the shared server), and connections are killed with pg_terminate_backend.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectDatabase } from '../../src/db/connect.ts';
import { adminApi } from '../admin/helpers.ts';
import { HttpBrowser } from '../support/browserless.ts';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from '../support/db.ts';
import { seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.ts';

const API = 'https://outage.api.example';
const UNAVAILABLE = 'The service is temporarily unavailable. Please try again in a moment.';

describe('database unavailable', {
  skip:
    testDatabaseKind() !== 'postgres' && 'needs TEST_DATABASE_URL (a proxy in front of PostgreSQL)',
}, () => {
  let real: TestDatabase;
  let proxy: TcpProxy;
  let server: TestServer;
  let client: { id: string; secret: string };
  let adminToken: string;
  let authUrl: string;
  const logs: string[] = [];
  let closeProxied: (() => Promise<void>) | undefined;

  const tokenRequest = () =>
    fetch(server.url('/token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: API }),
    });

  /** Asks until /token answers 200; returns the milliseconds it took. */
  async function recovery(limitMs: number): Promise<number> {
    const start = Date.now();
    for (;;) {
      const res = await tokenRequest();
      assert.ok([200, 503].includes(res.status), `status ${res.status} while recovering`);
      if (res.status === 200) return Date.now() - start;
      await res.arrayBuffer();
      assert.ok(Date.now() - start < limitMs, `no recovery within ${limitMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  function assertCleanLogs() {
    for (const line of logs) {
      assert.doesNotMatch(line, /\bat \S+:\d+:\d+/, 'no stack frame in a log line');
      assert.doesNotMatch(line, /"msg":"(request failed|provider error|admin API request failed)"/);
    }
  }

  before(async () => {
    real = await createTestDatabase('postgres');
    const target = new URL(real.url!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const proxied = new URL(real.url!);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const db = await connectDatabase({ url: proxied.href, poolMax: 10 });
    server = await startTestServer({
      logs,
      db: { ...db, url: proxied.href, drop: () => db.close() },
    });
    closeProxied = () => db.close();
    await server.app.services.catalogue.create({
      identifier: API,
      name: 'Outage',
      tokenFormat: 'opaque',
      scopes: [{ name: 'outage:read', description: 'Read' }],
    });
    const created = await server.app.services.clients.create({
      name: 'Outage batch job',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [API]: ['outage:read'] },
    });
    client = { id: created.client.clientId, secret: created.secret! };
    adminToken = await adminApi(server).machineToken();
    const bank = await seedBank(server);
    authUrl = bank.authorizationUrl();
  });
  after(async () => {
    await server?.close();
    await closeProxied?.();
    await proxy?.close();
    await real?.drop();
  });

  test('unreachable: 503 in each endpoint format with Retry-After, then recovery without restart', async () => {
    // An interaction started while the database was there, continued while it is not.
    const browser = new HttpBrowser({ accept: 'text/html' });
    const started = await browser.request(authUrl);
    assert.match(started.location ?? '', /\/interaction\//);
    logs.length = 0;

    await proxy.close();

    const token = await tokenRequest();
    assert.equal(token.status, 503);
    assert.equal(token.headers.get('retry-after'), '2');
    assert.deepEqual(await token.json(), {
      error: 'temporarily_unavailable',
      error_description: UNAVAILABLE,
    });

    for (const url of [authUrl, started.location!]) {
      const page = await browser.request(url);
      assert.equal(page.status, 503, url);
      assert.match(page.html, /<html/i);
      assert.match(page.html, /Temporarily unavailable/);
      assert.doesNotMatch(page.html, /Error:|at \S+:\d+/);
    }

    const admin = await fetch(server.url('/admin/v1/clients'), {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    assert.equal(admin.status, 503);
    assert.equal(admin.headers.get('retry-after'), '2');
    assert.equal(admin.headers.get('content-type'), 'application/problem+json');
    const problem = (await admin.json()) as Record<string, unknown>;
    assert.equal(problem.type, 'urn:portcullis:problem:unavailable');
    assert.equal(problem.status, 503);
    assert.equal(problem.detail, UNAVAILABLE);

    // One line per refused request says why; nothing logged as a server fault.
    assert.ok(logs.filter((l) => l.includes('"msg":"service unavailable"')).length >= 4);
    assertCleanLogs();

    await proxy.open();
    const ms = await recovery(2000);
    assert.ok(ms < 2000);
  });

  test('connections killed with pg_terminate_backend: 503 or 200, never 500, and back at once', async () => {
    logs.length = 0;
    const killed = await real.knex.raw(
      `select count(pg_terminate_backend(pid)) as n from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid()`,
    );
    assert.ok(Number(killed.rows[0].n) >= 1);
    const statuses = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const res = await tokenRequest();
        await res.arrayBuffer();
        return res.status;
      }),
    );
    for (const status of statuses) assert.ok([200, 503].includes(status), `status ${status}`);
    assert.ok((await recovery(2000)) < 2000);
    assertCleanLogs();
  });
});
