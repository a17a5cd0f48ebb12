// The web pages' error handler over real HTTP: what a page may show of an error (PageError and
// DomainError texts, fixed texts for Koa's own 4xx) and what it never shows (any other error's
// message, even one that claims to be a client error safe to expose), nor logs.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Koa from 'koa';
import { DomainError } from '../../src/errors.ts';
import { errorHandler } from '../../src/http/errors.ts';
import { PageError } from '../../src/http/pageError.ts';
import { createViews } from '../../src/http/views.ts';
import { createLogger } from '../../src/log.ts';
import { testI18n } from '../support/i18n.ts';

const LEAKY = 'insert into "webauthn_credentials" ("credential_id") values ($1) - duplicate key';

describe('error pages', () => {
  const logs: string[] = [];
  let server: ReturnType<Koa['listen']>;
  let base: string;

  before(async () => {
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _encoding, done) {
          logs.push(String(chunk));
          done();
        },
      }),
    );
    const koa = new Koa();
    koa.use(errorHandler(logger, createViews({ cache: false, i18n: testI18n })));
    koa.use(async (ctx) => {
      switch (ctx.path) {
        case '/page':
          throw new PageError(429, 'Too many attempts. Wait a while and try again.');
        case '/domain':
          throw new DomainError('conflict', 'a role named auditors already exists');
        case '/koa':
          ctx.throw(413, 'request entity too large: 70000 bytes of your form');
          break;
        case '/claims-to-be-safe':
          // What a library error may look like: a 4xx status and expose, with internals inside.
          throw Object.assign(new Error(LEAKY), { status: 400, expose: true, code: '23505' });
        default:
          throw new Error(LEAKY);
      }
    });
    server = koa.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const page = async (path: string) => {
    const res = await fetch(base + path, { headers: { accept: 'text/html' } });
    const html = await res.text();
    return { status: res.status, message: /<p[^>]*>([^<]*)<\/p>/.exec(html)?.[1], html };
  };

  test('a PageError and a DomainError are shown as written, with their status', async () => {
    assert.deepEqual(
      { ...(await page('/page')), html: undefined },
      { status: 429, message: 'Too many attempts. Wait a while and try again.', html: undefined },
    );
    const domain = await page('/domain');
    assert.equal(domain.status, 409);
    assert.equal(domain.message, 'a role named auditors already exists');
  });

  test("Koa's own client errors keep their status but not their text", async () => {
    const res = await page('/koa');
    assert.equal(res.status, 413);
    assert.equal(res.message, 'The request is too large.');
    assert.doesNotMatch(res.html, /70000/);
  });

  test('any other error is a generic 500, even with status and expose, and is logged without its message', async () => {
    for (const path of ['/claims-to-be-safe', '/anything']) {
      logs.length = 0;
      const res = await page(path);
      assert.equal(res.status, 500);
      assert.equal(res.message, 'The server could not complete the request.');
      assert.doesNotMatch(res.html, /insert into|duplicate key|webauthn_credentials/);
      const json = await fetch(base + path, { headers: { accept: 'application/json' } });
      assert.deepEqual(await json.json(), {
        error: 'server_error',
        error_description: 'The server could not complete the request.',
      });
      const line = JSON.parse(logs.find((l) => l.includes('request failed'))!);
      assert.equal(line.err.name, 'Error');
      assert.match(line.err.at, /errors\.test\.ts:\d+:\d+$/);
      assert.doesNotMatch(JSON.stringify(logs), /insert into|duplicate key/);
    }
  });
});
