// /readyz during a database that does not answer (finding 5): every check time-boxed, a 503
// naming the failing check within a second, never blocking; ready again once the database is
// back. And the issuer check: an instance whose ISSUER is not the database's is not ready.
import assert from 'node:assert/strict';
import { createServer, type Server, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connectDatabase } from '../../src/db/connect.ts';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from '../support/db.ts';
import { startTestServer, type TestServer, testSecrets } from '../support/server.ts';

/**
 * A TCP proxy in front of PostgreSQL that can turn into a black hole: while `blackhole` is on,
 * it accepts connections and forwards nothing, and bytes on open connections go nowhere.
 */
async function blackholeProxy(target: { host: string; port: number }) {
  let blackhole = false;
  const pairs = new Set<[Socket, Socket]>();
  const held: [Socket, Buffer][] = [];
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const pipe = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        if (blackhole) held.push([to, chunk]);
        else to.write(chunk);
      });
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    pipe(client, upstream);
    pipe(upstream, client);
    upstream.connect(target.port, target.host);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    set blackhole(on: boolean) {
      blackhole = on;
      // Back on: what was held is delivered, as a network that recovers would.
      if (!on) for (const [to, chunk] of held.splice(0)) if (!to.destroyed) to.write(chunk);
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readyz(server: TestServer) {
  const started = performance.now();
  const res = await fetch(server.url('/readyz'));
  const body = (await res.json()) as { status: string; checks: Record<string, string> };
  return { status: res.status, body, ms: performance.now() - started };
}

describe('/readyz while the database does not answer', {
  skip: testDatabaseKind() !== 'postgres' && 'needs PostgreSQL behind a TCP proxy',
}, () => {
  let real: TestDatabase;
  let proxy: Awaited<ReturnType<typeof blackholeProxy>>;
  let server: TestServer;
  before(async () => {
    real = await createTestDatabase('postgres');
    const url = new URL(real.url!);
    proxy = await blackholeProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const proxied = await connectDatabase({ url: url.href, poolMax: 4 });
    server = await startTestServer({
      db: { ...proxied, url: url.href, drop: () => proxied.close() },
    });
  });
  after(async () => {
    await server?.close();
    await server?.db.drop();
    await proxy?.close();
    await real?.drop();
  });

  test('answers 503 within a second naming the database, then ready again', async () => {
    const healthy = await readyz(server);
    assert.equal(healthy.status, 200, JSON.stringify(healthy.body));

    proxy.blackhole = true;
    for (let i = 0; i < 3; i++) {
      const down = await readyz(server);
      assert.equal(down.status, 503);
      assert.ok(down.ms < 1000, `answered in ${Math.round(down.ms)} ms`);
      assert.equal(down.body.status, 'not ready');
      assert.equal(down.body.checks.database, 'timed out after 800 ms');
      assert.equal(down.body.checks.issuer, 'timed out after 800 ms');
      assert.equal(down.body.checks.signing_key, 'ok');
    }

    proxy.blackhole = false;
    const deadline = Date.now() + 15_000;
    let back = await readyz(server);
    while (back.status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      back = await readyz(server);
    }
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.deepEqual(back.body.checks, {
      database: 'ok',
      migrations: 'ok',
      signing_key: 'ok',
      issuer: 'ok',
    });
  });
});

describe('/readyz and the issuer the database serves', () => {
  let first: TestServer;
  let second: TestServer;
  before(async () => {
    const env = testSecrets();
    first = await startTestServer({ env });
    second = await startTestServer({ db: first.db, env });
  });
  after(async () => {
    await second.close();
    await first.close();
  });

  test('an instance under another ISSUER than the database is not ready, and says why', async () => {
    assert.equal((await readyz(first)).status, 200);
    const other = await readyz(second);
    assert.equal(other.status, 503);
    assert.equal(other.body.checks.issuer, `this database serves ${first.issuer}`);
    assert.equal(other.body.checks.database, 'ok');
  });
});
