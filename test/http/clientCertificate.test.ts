// Reading a client certificate from the header a proxy sets, and deciding whether a trusted CA
// issued it (in the app, so self-signed certificates still reach self_signed_tls_client_auth).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../../src/clock.ts';
import {
  certificateOfHeader,
  createClientCertificates,
  readCertificateBundle,
} from '../../src/http/clientCertificate.ts';
import { createTestPki, type TestPki } from '../support/certificates.ts';

describe('client certificates', () => {
  let pki: TestPki;
  before(() => {
    pki = createTestPki();
  });
  after(() => pki.remove());

  test("the header as nginx's $ssl_client_escaped_cert writes it; anything else is no certificate", () => {
    const cert = certificateOfHeader(encodeURIComponent(pki.tppOne.cert));
    assert.equal(cert?.fingerprint256, new X509Certificate(pki.tppOne.cert).fingerprint256);
    assert.equal(certificateOfHeader(pki.tppOne.cert)?.subject, cert?.subject, 'unescaped PEM');
    for (const value of [
      undefined,
      '',
      'garbage',
      '%E0%A4%A',
      encodeURIComponent(pki.tppOne.key),
      encodeURIComponent(`${pki.tppOne.cert}\n${pki.tppTwo.cert}`),
      encodeURIComponent(pki.tppOne.cert.replace(/[A-Za-z]{8}\n/, 'AAAAAAAA\n')),
    ])
      assert.equal(certificateOfHeader(value), undefined, String(value).slice(0, 40));
  });

  test('issued by a trusted CA, and both within their validity, at the injected time', () => {
    const clock = manualClock();
    const certificates = createClientCertificates({
      header: 'x-ssl-client-cert',
      trustedCas: readCertificateBundle(pki.tppCa.certFile, 'TLS_CLIENT_CA_FILE'),
      clock,
    });
    const issued = (identity: { cert: string }) =>
      certificates.issuedByTrustedCa(new X509Certificate(identity.cert));
    assert.equal(issued(pki.tppOne), true);
    assert.equal(issued(pki.tppTwo), true);
    assert.equal(issued(pki.rogue), false, 'same issuer name, another key');
    assert.equal(issued(pki.selfSigned), false);
    assert.equal(issued(pki.server), false, 'another CA');
    clock.advance(3 * 24 * 3600 * 1000);
    assert.equal(issued(pki.tppOne), false, 'expired');
    clock.set(Date.now() - 24 * 3600 * 1000);
    assert.equal(issued(pki.tppOne), false, 'not yet valid');
  });

  test('a CA file with several certificates; a certificate that is no CA is not trusted', () => {
    const file = join(pki.dir, 'bundle.pem');
    writeFileSync(file, `# scheme CAs\n${pki.serverCa.cert}\n${pki.tppCa.cert}`);
    const bundle = readCertificateBundle(file, 'TLS_CLIENT_CA_FILE');
    assert.equal(bundle.length, 2);
    const fromBundle = createClientCertificates({
      header: undefined,
      trustedCas: bundle,
      clock: manualClock(),
    });
    assert.equal(fromBundle.issuedByTrustedCa(new X509Certificate(pki.tppTwo.cert)), true);
    assert.equal(fromBundle.issuedByTrustedCa(new X509Certificate(pki.server.cert)), true);
    const certificates = createClientCertificates({
      header: undefined,
      trustedCas: [new X509Certificate(pki.selfSigned.cert)],
      clock: manualClock(),
    });
    // Self-signed but not a CA (basicConstraints CA:FALSE): it vouches for nothing, itself included.
    assert.equal(certificates.issuedByTrustedCa(new X509Certificate(pki.selfSigned.cert)), false);
  });
});
