// Operations endpoints and HTTP hygiene: health, readiness, metrics, security headers, proxies.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { freePort, startTestServer, type TestServer } from '../support/server.ts';

describe('operations', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('/healthz answers while the process is up', async () => {
    const res = await fetch(server.url('/healthz'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  test('/readyz reports database, migrations and signing key', async () => {
    const res = await fetch(server.url('/readyz'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      status: 'ready',
      checks: { database: 'ok', migrations: 'ok', signing_key: 'ok', issuer: 'ok' },
    });
  });

  test('/metrics is not served on the main listener unless METRICS_TOKEN is set', async () => {
    const res = await fetch(server.url('/metrics'));
    assert.equal(res.status, 404);
    assert.doesNotMatch(await res.text(), /process_cpu_user_seconds_total/);
  });

  test('every response carries the security headers', async () => {
    for (const path of ['/healthz', '/.well-known/openid-configuration', '/interaction/unknown']) {
      const res = await fetch(server.url(path));
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.ok(res.headers.get('x-request-id'));
    }
  });

  test('an unknown interaction shows an error page, not a stack trace', async () => {
    const res = await fetch(server.url('/interaction/unknown'));
    assert.equal(res.status, 400);
    const html = await res.text();
    assert.match(html, /<h1>Something went wrong<\/h1>/);
    assert.doesNotMatch(html, /\bat .*\.ts:\d+/);
  });

  test('published URLs follow ISSUER, with or without TRUSTED_PROXIES', async () => {
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.com' };
    const discovery = async (url: string) =>
      (await (await fetch(url, { headers })).json()) as { token_endpoint: string };
    const direct = await discovery(server.url('/.well-known/openid-configuration'));
    assert.equal(direct.token_endpoint, `${server.issuer}/token`);

    const proxied = await startTestServer({ env: { TRUSTED_PROXIES: '1' } });
    try {
      const meta = await discovery(proxied.url('/.well-known/openid-configuration'));
      assert.equal(meta.token_endpoint, `${proxied.issuer}/token`);
    } finally {
      await proxied.close();
    }
  });
});

const METRICS_TOKEN = 'metrics-scraper-token-0123456789abcdef';

/** What every metrics scrape must show: process, request and token metrics. */
async function assertMetrics(res: Response): Promise<void> {
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  assert.match(text, /process_cpu_user_seconds_total/);
  assert.match(
    text,
    /portcullis_http_request_duration_seconds_count\{method="GET",route="discovery",status="200"\} \d+/,
  );
  assert.match(text, /# TYPE portcullis_tokens_issued_total counter/);
}

/** A refusal of /metrics: exact status, challenge and body, and no metric in it. */
async function assertRefused(
  res: Response,
  challenge: string,
  body: { error: string; error_description: string },
): Promise<void> {
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), challenge);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.deepEqual(await res.json(), body);
}

const MISSING = { error: 'unauthorized', error_description: 'a bearer token is required' };
const WRONG = { error: 'invalid_token', error_description: 'the bearer token is not valid' };
const BARE_CHALLENGE = 'Bearer realm="portcullis-metrics"';
const INVALID_CHALLENGE = 'Bearer realm="portcullis-metrics", error="invalid_token"';

describe('/metrics with METRICS_TOKEN', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { METRICS_TOKEN } });
  });
  after(() => server.close());

  test('is refused without the bearer token, or with another one', async () => {
    const metrics = server.url('/metrics');
    await assertRefused(await fetch(metrics), BARE_CHALLENGE, MISSING);
    await assertRefused(
      await fetch(metrics, { headers: { authorization: 'Basic bWV0cmljczpzZWNyZXQ=' } }),
      BARE_CHALLENGE,
      MISSING,
    );
    for (const wrong of [
      'wrong',
      `${METRICS_TOKEN}x`,
      METRICS_TOKEN.slice(0, -1),
      METRICS_TOKEN.toUpperCase(),
    ]) {
      await assertRefused(
        await fetch(metrics, { headers: { authorization: `Bearer ${wrong}` } }),
        INVALID_CHALLENGE,
        WRONG,
      );
    }
  });

  test('is served with the bearer token', async () => {
    await fetch(server.url('/.well-known/openid-configuration'));
    await assertMetrics(
      await fetch(server.url('/metrics'), {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      }),
    );
  });
});

describe('/metrics on METRICS_PORT', () => {
  let server: TestServer;
  let metricsUrl: (path: string) => string;
  let protectedServer: TestServer;
  let protectedUrl: (path: string) => string;
  before(async () => {
    const port = await freePort();
    server = await startTestServer({ env: { METRICS_PORT: String(port) } });
    metricsUrl = (path) => `http://127.0.0.1:${port}${path}`;
    const other = await freePort();
    protectedServer = await startTestServer({
      env: { METRICS_PORT: String(other), METRICS_TOKEN },
    });
    protectedUrl = (path) => `http://127.0.0.1:${other}${path}`;
  });
  after(async () => {
    await server.close();
    await protectedServer.close();
  });

  test('a listener of its own serves /metrics and nothing else; the main one does not', async () => {
    await fetch(server.url('/.well-known/openid-configuration'));
    await assertMetrics(await fetch(metricsUrl('/metrics')));
    for (const path of ['/healthz', '/.well-known/openid-configuration', '/jwks', '/']) {
      assert.equal((await fetch(metricsUrl(path))).status, 404, path);
    }
    assert.equal((await fetch(server.url('/metrics'))).status, 404);
  });

  test('with METRICS_TOKEN as well, that listener wants the token', async () => {
    await fetch(protectedServer.url('/.well-known/openid-configuration'));
    await assertRefused(await fetch(protectedUrl('/metrics')), BARE_CHALLENGE, MISSING);
    await assertMetrics(
      await fetch(protectedUrl('/metrics'), {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      }),
    );
    assert.equal(
      (
        await fetch(protectedServer.url('/metrics'), {
          headers: { authorization: `Bearer ${METRICS_TOKEN}` },
        })
      ).status,
      404,
    );
  });
});

describe('a client that closes its connection mid-request', () => {
  const logs: string[] = [];
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ logs });
  });
  after(() => server.close());

  /** Sends the headers and half the body of a form POST, then closes the connection. */
  async function abandon(path: string): Promise<void> {
    const { port } = new URL(server.issuer);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
        'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=cl',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
  }

  test('is logged at info level, never as a server error', async () => {
    await abandon('/token');
    await abandon('/interaction/some-uid/login');
    const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    // The input guard reads every form body first, so both log "client closed" (499).
    for (const [path, status] of [
      ['/token', 499],
      ['/interaction/some-uid/login', 499],
    ] as const) {
      const line = lines.find((l) => l.path === path);
      assert.ok(line, `no request line for ${path}`);
      assert.equal(line.status, status);
      assert.equal(line.level, 'info');
    }
    assert.deepEqual(
      lines.filter((l) => l.level === 'error'),
      [],
    );
  });
});
