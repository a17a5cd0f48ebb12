import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';

const key = () => `k1:${randomBytes(32).toString('base64')}`;
const cookie = () => randomBytes(32).toString('base64url');
const production = {
  NODE_ENV: 'production',
  ISSUER: 'https://auth.example.com',
  DATABASE_URL: 'postgres://db.internal/portcullis',
  COOKIE_KEYS: cookie(),
  ENCRYPTION_KEYS: key(),
};

function rejects(env: Record<string, string>, message: string) {
  assert.throws(
    () => loadConfig(env),
    (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, message);
      assert.ok(!err.message.includes('\n'), 'one line');
      return true;
    },
  );
}

describe('configuration', () => {
  test('defaults are filled in and documented values parsed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pc-config-'));
    const config = loadConfig({ DATA_DIR: dir });
    assert.equal(config.env, 'development');
    assert.equal(config.issuer, 'http://localhost:3000');
    assert.equal(config.port, 3000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.database.url, undefined);
    assert.equal(config.keys.alg, 'ES256');
    assert.deepEqual(config.trustedProxies, { kind: 'none' });
    assert.deepEqual(config.metrics, { token: undefined, port: undefined, host: '127.0.0.1' });
    // Outside production, missing keys are generated once and kept under DATA_DIR (0600).
    assert.equal(config.warnings.length, 2);
    const file = join(dir, 'dev-secrets.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = loadConfig({ DATA_DIR: dir });
    assert.deepEqual(again.cookieKeys, config.cookieKeys);
    assert.deepEqual(again.encryptionKeys, config.encryptionKeys);
    assert.ok(readFileSync(file, 'utf8').includes(config.cookieKeys[0]!));
  });

  test('a valid production configuration loads without warnings', () => {
    const config = loadConfig(production);
    assert.equal(config.env, 'production');
    assert.deepEqual(config.warnings, []);
    assert.equal(config.encryptionKeys[0]?.id, 'k1');
  });

  test('invalid values name the variable and the problem', () => {
    rejects({ PORT: 'eighty' }, 'Invalid configuration: PORT must be a whole number');
    rejects({ PORT: '70000' }, 'Invalid configuration: PORT must be at most 65535');
    rejects(
      { DEFAULT_LOCALE: 'fr' },
      'Invalid configuration: DEFAULT_LOCALE must be a language there is a catalogue for: de, en',
    );
    rejects(
      { ISSUER: 'ftp://x' },
      'Invalid configuration: ISSUER must be an absolute http(s) origin such as https://auth.example.com (no path, query or fragment)',
    );
    rejects(
      { DATABASE_URL: 'mysql://x' },
      'Invalid configuration: DATABASE_URL must be a postgres:// or postgresql:// URL',
    );
    rejects(
      { COOKIE_KEYS: 'short' },
      'Invalid configuration: COOKIE_KEYS every key must be at least 32 characters',
    );
    rejects(
      { ENCRYPTION_KEYS: 'k1:c2hvcnQ=' },
      'Invalid configuration: ENCRYPTION_KEYS every entry must be id:base64key with a 32-byte key (id: letters, digits, _ or -)',
    );
    rejects(
      { ENCRYPTION_KEYS: `${key()},${key()}` },
      'Invalid configuration: ENCRYPTION_KEYS key id "k1" appears twice',
    );
    rejects(
      { SIGNING_ALG: 'HS256' },
      'Invalid configuration: SIGNING_ALG must be ES256, PS256 or Ed25519',
    );
  });

  test('CLIENT_RATE_LIMIT, CLIENT_RATE_LIMIT_SYNC_MS and IP_PENDING_LIMIT', () => {
    const defaults = loadConfig(production);
    assert.deepEqual(defaults.clientRateLimit, {
      default: { requests: 100000, windowSeconds: 10 },
      syncMs: 1000,
    });
    assert.equal(defaults.signIn.ipPendingLimit, 200);
    const set = loadConfig({
      ...production,
      CLIENT_RATE_LIMIT: '600/60',
      CLIENT_RATE_LIMIT_SYNC_MS: '250',
      IP_PENDING_LIMIT: '50',
    });
    assert.deepEqual(set.clientRateLimit, {
      default: { requests: 600, windowSeconds: 60 },
      syncMs: 250,
    });
    assert.equal(set.signIn.ipPendingLimit, 50);
    rejects(
      { CLIENT_RATE_LIMIT: 'off' },
      'Invalid configuration: CLIENT_RATE_LIMIT must be N/SECONDS, e.g. 600/60 for 600 requests a minute',
    );
    rejects(
      { CLIENT_RATE_LIMIT: '0/10' },
      'Invalid configuration: CLIENT_RATE_LIMIT the number of requests must be a whole number from 1 to 1000000000',
    );
    rejects(
      { CLIENT_RATE_LIMIT: '10/100000' },
      'Invalid configuration: CLIENT_RATE_LIMIT the window must be a whole number of seconds from 1 to 86400',
    );
    rejects(
      { CLIENT_RATE_LIMIT_SYNC_MS: '10' },
      'Invalid configuration: CLIENT_RATE_LIMIT_SYNC_MS must be at least 50',
    );
  });

  test('production refuses unsafe settings', () => {
    rejects(
      { ...production, ISSUER: 'http://auth.example.com' },
      'Refusing to start in production: ISSUER must use https (http is allowed only on loopback)',
    );
    const { COOKIE_KEYS: _c, ENCRYPTION_KEYS: _e, DATABASE_URL: _d, ...bare } = production;
    rejects(
      bare,
      'Refusing to start in production: COOKIE_KEYS must be set; ENCRYPTION_KEYS must be set; DATABASE_URL must be set (the embedded database is for development only)',
    );
    rejects(
      { ...production, KEYS_ACTIVATION_DELAY_SECONDS: '60' },
      'Refusing to start in production: KEYS_ACTIVATION_DELAY_SECONDS must not be shorter than JWKS_MAX_AGE_SECONDS',
    );
    // Loopback http is allowed (a proxy terminates TLS on the same host).
    assert.equal(
      loadConfig({ ...production, ISSUER: 'http://127.0.0.1:3000' }).issuer,
      'http://127.0.0.1:3000',
    );
  });

  test('TRUST_PROXY is gone: setting it stops the start and says what to use', () => {
    for (const value of ['true', 'false', '1']) {
      rejects(
        { TRUST_PROXY: value },
        'Invalid configuration: TRUST_PROXY is no longer supported: set TRUSTED_PROXIES to the number of proxies in front of Portcullis (e.g. 1) or to their addresses (e.g. 10.0.0.0/8,127.0.0.1)',
      );
    }
  });

  test('TRUSTED_PROXIES: a hop count, or addresses and CIDR ranges (IPv4 and IPv6)', () => {
    assert.deepEqual(loadConfig({ ...production, TRUSTED_PROXIES: '1' }).trustedProxies, {
      kind: 'hops',
      hops: 1,
    });
    assert.deepEqual(
      loadConfig({
        ...production,
        TRUSTED_PROXIES: ' 10.0.0.0/8, 127.0.0.1 ,fd00::/8,::1, 192.168.1.7/32',
      }).trustedProxies,
      {
        kind: 'addresses',
        entries: ['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::1', '192.168.1.7/32'],
      },
    );
    const entry = (v: string) =>
      `Invalid configuration: TRUSTED_PROXIES must be a number of proxies (1 to 10) or a comma-separated list of IP addresses and CIDR ranges (e.g. 10.0.0.0/8,127.0.0.1): ${v}`;
    rejects({ TRUSTED_PROXIES: '0' }, entry('"0" is not a number of proxies from 1 to 10'));
    rejects({ TRUSTED_PROXIES: '11' }, entry('"11" is not a number of proxies from 1 to 10'));
    rejects(
      { TRUSTED_PROXIES: 'proxy.internal' },
      entry('"proxy.internal" is not an IP address or CIDR range'),
    );
    rejects(
      { TRUSTED_PROXIES: '10.0.0.0/33' },
      entry('"10.0.0.0/33" is not an IP address or CIDR range'),
    );
    rejects(
      { TRUSTED_PROXIES: '10.0.0.1,,10.0.0.2' },
      entry('"" is not an IP address or CIDR range'),
    );
    rejects(
      { TRUSTED_PROXIES: 'fd00::/129' },
      entry('"fd00::/129" is not an IP address or CIDR range'),
    );
    rejects(
      { TRUSTED_PROXIES: '10.0.0.0/8,0.0.0.0/0' },
      'Invalid configuration: TRUSTED_PROXIES must not trust every address ("0.0.0.0/0"): name the proxies',
    );
    rejects(
      { TRUSTED_PROXIES: '::/0' },
      'Invalid configuration: TRUSTED_PROXIES must not trust every address ("::/0"): name the proxies',
    );
  });

  test('METRICS_TOKEN, METRICS_PORT and METRICS_HOST', () => {
    const token = 'a'.repeat(32);
    assert.deepEqual(
      loadConfig({
        ...production,
        METRICS_TOKEN: token,
        METRICS_PORT: '9464',
        METRICS_HOST: '0.0.0.0',
      }).metrics,
      { token, port: 9464, host: '0.0.0.0' },
    );
    rejects(
      { METRICS_TOKEN: 'a'.repeat(31) },
      'Invalid configuration: METRICS_TOKEN must be at least 32 characters (a random secret)',
    );
    rejects(
      { ...production, METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' },
      'Refusing to start in production: METRICS_HOST is not a loopback address: set METRICS_TOKEN too, or metrics are open to the network',
    );
    assert.equal(loadConfig({ ...production, METRICS_PORT: '9464' }).metrics.host, '127.0.0.1');
    rejects({ METRICS_PORT: 'nine' }, 'Invalid configuration: METRICS_PORT must be a whole number');
    rejects({ METRICS_PORT: '0' }, 'Invalid configuration: METRICS_PORT must be at least 1');
    rejects(
      { PORT: '3000', METRICS_PORT: '3000' },
      'Invalid configuration: METRICS_PORT must differ from PORT',
    );
  });
});
