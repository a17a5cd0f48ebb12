// The rules that decide a request's client address from its TCP peer and X-Forwarded-For, case by
// case (IPv4 and IPv6, ports, IPv4-mapped peers, garbage), then over a real IPv6 listener.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { canonicalAddress, createClientAddress } from '../../src/http/clientAddress.ts';
import { authorizationUrl, HttpBrowser, pkce } from '../support/browserless.ts';
import { BANK_API, type Bank, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('client address rules', () => {
  test('addresses are compared in one form: no port or brackets, IPv4-mapped as IPv4', () => {
    assert.equal(canonicalAddress('203.0.113.9'), '203.0.113.9');
    assert.equal(canonicalAddress(' 203.0.113.9:52311 '), '203.0.113.9');
    assert.equal(canonicalAddress('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(canonicalAddress('[2001:DB8::1]:443'), '2001:db8::1');
    assert.equal(canonicalAddress('2001:db8::1'), '2001:db8::1');
    for (const bad of ['unknown', 'proxy.internal', '', '999.1.1.1', '_hidden', undefined])
      assert.equal(canonicalAddress(bad), undefined, String(bad));
  });

  test('without TRUSTED_PROXIES the peer is the client, whatever the headers say', () => {
    const { resolve } = createClientAddress({ kind: 'none' });
    assert.deepEqual(resolve('::ffff:198.51.100.4', '1.2.3.4'), {
      address: '198.51.100.4',
      forwarded: false,
    });
  });

  test('a hop count counts from the right of X-Forwarded-For', () => {
    const one = createClientAddress({ kind: 'hops', hops: 1 });
    assert.deepEqual(one.resolve('10.0.0.2', '6.6.6.6, 203.0.113.9'), {
      address: '203.0.113.9',
      forwarded: true,
    });
    assert.equal(one.resolve('10.0.0.2', undefined).address, '10.0.0.2', 'no header: the peer');
    assert.equal(one.resolve('10.0.0.2', '2001:db8::7').address, '2001:db8::7');
    assert.equal(
      one.resolve('10.0.0.2', '6.6.6.6, garbage').address,
      '10.0.0.2',
      'an entry that is no address: the peer, never a made-up key',
    );
    const two = createClientAddress({ kind: 'hops', hops: 2 });
    assert.equal(two.resolve('10.0.0.2', '6.6.6.6,203.0.113.9,10.0.0.1').address, '203.0.113.9');
    assert.equal(
      two.resolve('10.0.0.2', '203.0.113.9').address,
      '203.0.113.9',
      'fewer entries than hops: the left-most',
    );
  });

  test('a list of proxies: the right-most address that is not one of them, from a trusted peer only', () => {
    const { resolve } = createClientAddress({
      kind: 'addresses',
      entries: ['10.0.0.0/8', '127.0.0.1', 'fd00::/8'],
    });
    assert.deepEqual(resolve('127.0.0.1', '6.6.6.6, 203.0.113.9, 10.1.2.3'), {
      address: '203.0.113.9',
      forwarded: true,
    });
    assert.deepEqual(resolve('::ffff:127.0.0.1', '2001:db8::5, fd12::1'), {
      address: '2001:db8::5',
      forwarded: true,
    });
    assert.deepEqual(resolve('198.51.100.4', '203.0.113.9'), {
      address: '198.51.100.4',
      forwarded: false,
    });
    assert.deepEqual(resolve('10.9.9.9', undefined), { address: '10.9.9.9', forwarded: true });
    assert.equal(resolve('10.9.9.9', '10.1.1.1, 10.2.2.2').address, '10.1.1.1', 'all proxies');
    assert.equal(
      resolve('10.9.9.9', '203.0.113.9, unknown, 10.2.2.2').address,
      '10.2.2.2',
      'the walk stops at an entry that is no address',
    );
  });
});

describe('an IPv6 proxy (TRUSTED_PROXIES=::1)', () => {
  let server: TestServer;
  let bank: Bank;
  let port: string;
  before(async () => {
    server = await startTestServer({ hostname: 'localhost', env: { TRUSTED_PROXIES: '::1' } });
    bank = await seedBank(server);
    port = new URL(server.issuer).port;
  });
  after(() => server.close());

  /** A failed sign-in through `host`, claiming 203.0.113.66. */
  const failedSignIn = async (host: string) => {
    const base = `http://${host}:${port}`;
    const browser = new HttpBrowser({ 'x-forwarded-for': '203.0.113.66' });
    const page = await browser.open(
      authorizationUrl({
        issuer: base,
        clientId: bank.client.id,
        redirectUri: REDIRECT_URI,
        scope: 'openid accounts:read',
        resource: BANK_API,
        challenge: pkce().challenge,
        state: 's',
      }),
      base,
    );
    const failed = await browser.submit(page, /\/login$/, {
      email: 'nobody@example.com',
      password: 'a wrong guess',
    });
    assert.equal(failed.status, 401);
  };
  const audited = async () =>
    (await server.app.services.audit.query({ action: 'login.failure', limit: 10 })).events
      .map((e) => e.sourceIp)
      .sort();

  test('is believed over IPv6; the same headers over IPv4 are not', async () => {
    await failedSignIn('[::1]');
    assert.deepEqual(await audited(), ['203.0.113.66']);
    await failedSignIn('127.0.0.1');
    assert.deepEqual(await audited(), ['127.0.0.1', '203.0.113.66']);
  });
});
