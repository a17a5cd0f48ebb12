// The mutual TLS variables: what each combination means, and every one that cannot work refused
// at start with one line (src/configTls.ts); unreadable certificate files stop the start too.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createApp } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { createTestPki } from './support/certificates.ts';
import { createTestDatabase } from './support/db.ts';

const base = {
  NODE_ENV: 'test',
  COOKIE_KEYS: randomBytes(32).toString('base64url'),
  ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};

function rejects(env: Record<string, string>, message: string) {
  assert.throws(
    () => loadConfig({ ...base, ...env }),
    (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `Invalid configuration: ${message}`);
      return true;
    },
  );
}

describe('mutual TLS configuration', () => {
  test('unset: plain http, no certificate source, no alias', () => {
    assert.deepEqual(loadConfig(base).tls, {
      server: undefined,
      clientCaFile: undefined,
      certificateHeader: undefined,
      mtlsOrigin: undefined,
    });
  });

  test('Portcullis serving TLS itself, with its CA list and an mTLS origin', () => {
    const config = loadConfig({
      ...base,
      ISSUER: 'https://auth.example.com',
      TLS_CERT_FILE: '/etc/portcullis/tls.pem',
      TLS_KEY_FILE: '/etc/portcullis/tls.key',
      TLS_CLIENT_CA_FILE: '/etc/portcullis/tpp-cas.pem',
      MTLS_ORIGIN: 'https://mtls.auth.example.com/',
    });
    assert.deepEqual(config.tls, {
      server: { certFile: '/etc/portcullis/tls.pem', keyFile: '/etc/portcullis/tls.key' },
      clientCaFile: '/etc/portcullis/tpp-cas.pem',
      certificateHeader: undefined,
      mtlsOrigin: 'https://mtls.auth.example.com',
    });
  });

  test('behind a proxy: the header name, lower-cased, with the proxies named by address', () => {
    const config = loadConfig({
      ...base,
      ISSUER: 'https://auth.example.com',
      TRUSTED_PROXIES: '10.0.0.5,10.1.0.0/16',
      MTLS_CERTIFICATE_HEADER: 'X-SSL-Client-Cert',
      TLS_CLIENT_CA_FILE: '/etc/portcullis/tpp-cas.pem',
      MTLS_ORIGIN: 'https://mtls.auth.example.com',
    });
    assert.equal(config.tls.certificateHeader, 'x-ssl-client-cert');
    assert.equal(config.tls.server, undefined);
  });

  test('combinations that cannot work are refused with their reason', () => {
    const https = { ISSUER: 'https://auth.example.com' };
    rejects(
      { ...https, TLS_CERT_FILE: '/tls.pem' },
      'TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither',
    );
    rejects(
      { ...https, TLS_KEY_FILE: '/tls.key' },
      'TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither',
    );
    rejects(
      { ISSUER: 'http://localhost:3000', TLS_CERT_FILE: '/tls.pem', TLS_KEY_FILE: '/tls.key' },
      'ISSUER must use https when Portcullis serves TLS itself (TLS_CERT_FILE)',
    );
    const headerNeedsAddresses =
      'MTLS_CERTIFICATE_HEADER needs TRUSTED_PROXIES set to the addresses of the proxies that verify client certificates (e.g. 10.0.0.5 or 10.0.0.0/24): the header is believed only from them';
    rejects({ ...https, MTLS_CERTIFICATE_HEADER: 'X-SSL-Client-Cert' }, headerNeedsAddresses);
    // A hop count believes any peer: not enough for a header that authenticates clients.
    rejects(
      { ...https, MTLS_CERTIFICATE_HEADER: 'X-SSL-Client-Cert', TRUSTED_PROXIES: '1' },
      headerNeedsAddresses,
    );
    rejects(
      { ...https, TLS_CLIENT_CA_FILE: '/cas.pem' },
      'TLS_CLIENT_CA_FILE needs a source of client certificates: TLS_CERT_FILE and TLS_KEY_FILE, or MTLS_CERTIFICATE_HEADER behind a proxy',
    );
    rejects(
      { ...https, MTLS_ORIGIN: 'https://mtls.auth.example.com' },
      'MTLS_ORIGIN needs TLS_CERT_FILE and TLS_KEY_FILE, or MTLS_CERTIFICATE_HEADER',
    );
    const proxied = {
      ...https,
      TRUSTED_PROXIES: '10.0.0.5',
      MTLS_CERTIFICATE_HEADER: 'X-SSL-Client-Cert',
    };
    rejects(
      { ...proxied, MTLS_ORIGIN: 'http://mtls.auth.example.com' },
      'MTLS_ORIGIN must use https',
    );
    rejects(
      { ...proxied, MTLS_ORIGIN: 'https://auth.example.com:443' },
      "MTLS_ORIGIN must name another host (or port) than ISSUER's",
    );
    rejects(
      { ...proxied, MTLS_ORIGIN: 'https://mtls.auth.example.com/token' },
      'MTLS_ORIGIN must be an absolute http(s) origin such as https://auth.example.com (no path, query or fragment)',
    );
    rejects(
      { ...proxied, MTLS_CERTIFICATE_HEADER: 'X-SSL Client Cert' },
      'MTLS_CERTIFICATE_HEADER must be an HTTP header name such as X-SSL-Client-Cert',
    );
  });

  test('a certificate file that cannot be read, or holds no certificate, stops the start', async () => {
    const pki = createTestPki();
    const db = await createTestDatabase();
    try {
      const start = (env: Record<string, string>) =>
        createApp(loadConfig({ ...base, ISSUER: 'https://localhost:0', ...env }), {
          logger: createLogger('silent'),
          db,
        });
      const tls = { TLS_CERT_FILE: pki.server.certFile, TLS_KEY_FILE: pki.server.keyFile };
      await assert.rejects(start({ ...tls, TLS_CLIENT_CA_FILE: `${pki.dir}/missing.pem` }), {
        name: 'ConfigError',
        message: `Invalid configuration: TLS_CLIENT_CA_FILE cannot be read (ENOENT): ${pki.dir}/missing.pem`,
      });
      await assert.rejects(start({ ...tls, TLS_CLIENT_CA_FILE: pki.tppCa.keyFile }), {
        name: 'ConfigError',
        message: `Invalid configuration: TLS_CLIENT_CA_FILE holds no PEM certificate: ${pki.tppCa.keyFile}`,
      });
      const app = await start({ ...tls, TLS_KEY_FILE: `${pki.dir}/missing.key` });
      await assert.rejects(app.listen(0, '127.0.0.1'), {
        name: 'ConfigError',
        message: `Invalid configuration: TLS_KEY_FILE cannot be read (ENOENT): ${pki.dir}/missing.key`,
      });
      await app.close();
    } finally {
      await db.drop();
      pki.remove();
    }
  });
});
