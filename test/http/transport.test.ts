// What reaches an instance at the transport level: a request the HTTP parser cannot read (cut
// short, garbled) is logged as one JSON line and answered 400, never printed as a plain-text stack;
// a plain-http request through a trusted proxy while ISSUER is https is a clear 400 in the
// endpoint's format, logged once as a warning, never a 500.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { PLAIN_HTTP_REFUSED } from '../../src/http/secureTransport.ts';
import { type Bank, seedBank } from '../support/fixtures.ts';
import { freePort, startTestServer, type TestServer } from '../support/server.ts';

/** Sends raw bytes, half-closes, and resolves with everything the server answered. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(Buffer.from(bytes, 'latin1')));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** Everything written to stderr while `run` runs (Koa's default error printer writes there). */
async function stderrDuring(run: () => Promise<void>): Promise<string> {
  const original = process.stderr.write.bind(process.stderr);
  let captured = '';
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    captured += String(chunk);
    return original(chunk, ...(rest as []));
  }) as typeof process.stderr.write;
  try {
    await run();
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    process.stderr.write = original;
  }
  return captured;
}

describe('requests the HTTP parser cannot read', () => {
  let server: TestServer;
  let port: number;
  const logs: string[] = [];
  before(async () => {
    server = await startTestServer({ logs });
    port = Number(new URL(server.issuer).port);
  });
  after(() => server.close());

  test('a truncated body, a garbled chunk, a garbled request line: 400 and one JSON line each', async () => {
    const requests: [string, string][] = [
      [
        'POST /token HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=cl',
        'HPE_INVALID_EOF_STATE',
      ],
      [
        'POST /token HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n',
        'HPE_INVALID_CHUNK_SIZE',
      ],
      ['GARBAGE /\u0001 HTTP/1.1\r\n\r\n', 'HPE_INVALID_METHOD'],
    ];
    for (const [bytes, code] of requests) {
      const logged = logs.length;
      let answer = '';
      const stderr = await stderrDuring(async () => {
        answer = await rawRequest(port, bytes);
      });
      assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/, code);
      assert.doesNotMatch(stderr, /Parse Error|\n\s+at /, 'no stack trace on stderr');
      const lines = logs.slice(logged);
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
      const unreadable = lines
        .map((l) => JSON.parse(l))
        .filter((l) => l.msg === 'unreadable request');
      assert.equal(unreadable.length, 1, lines.join('\n'));
      assert.equal(unreadable[0].err.errorCode, code);
      assert.equal(unreadable[0].err.message, undefined, 'the error message is not logged');
      assert.doesNotMatch(lines.join('\n'), /grant_type|GARBAGE/, 'no request bytes in the log');
    }
  });
});

describe('plain http behind a trusted proxy while ISSUER is https', () => {
  let server: TestServer;
  let bank: Bank;
  const logs: string[] = [];
  before(async () => {
    const port = await freePort();
    server = await startTestServer({
      logs,
      env: {
        ISSUER: `https://127.0.0.1:${port}`,
        PORT: String(port),
        TRUSTED_PROXIES: '127.0.0.1',
      },
    });
    bank = await seedBank(server);
  });
  after(() => server.close());

  /** The instance itself, over http, as the proxy reaches it. */
  const direct = (path: string, init: RequestInit = {}) =>
    fetch(`http://${new URL(server.issuer).host}${path}`, { redirect: 'manual', ...init });

  const authUrl = () => new URL(bank.authorizationUrl({ state: 'st' }));

  test('without X-Forwarded-Proto: 400 in each endpoint format, one warning', async () => {
    const logged = logs.length;
    const url = authUrl();
    const page = await direct(url.pathname + url.search, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 400);
    assert.equal(
      /<p class="notice error" role="alert">([^<]*)<\/p>/.exec(await page.text())?.[1],
      PLAIN_HTTP_REFUSED,
    );
    for (const proto of [undefined, 'http']) {
      const token = await direct('/token', {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(proto ? { 'x-forwarded-proto': proto } : {}),
        },
        body: 'grant_type=client_credentials',
      });
      assert.equal(token.status, 400);
      assert.deepEqual(await token.json(), {
        error: 'invalid_request',
        error_description: PLAIN_HTTP_REFUSED,
      });
    }
    const adminRes = await direct('/admin/v1/users');
    assert.equal(adminRes.status, 400);
    assert.equal(((await adminRes.json()) as { detail: string }).detail, PLAIN_HTTP_REFUSED);

    const lines = logs.slice(logged).map((l) => JSON.parse(l));
    assert.equal(lines.filter((l) => l.level === 'error').length, 0, 'no server error');
    const warnings = lines.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 1, 'logged once');
    assert.match(warnings[0].msg, /X-Forwarded-Proto: https/);
  });

  test('health probes still answer over http; with X-Forwarded-Proto: https the login starts', async () => {
    assert.equal((await direct('/healthz')).status, 200);
    const url = authUrl();
    const res = await direct(url.pathname + url.search, {
      headers: { 'x-forwarded-proto': 'https' },
    });
    assert.equal(res.status, 303);
    const cookies = res.headers.getSetCookie();
    assert.ok(cookies.length > 0 && cookies.every((c) => /;\s*secure/i.test(c)), cookies.join());
  });
});
