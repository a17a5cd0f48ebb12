// How a tls_client_auth client's registered subject is compared with its certificate (RFC 8705
// §2.1.2): the subject DN in RFC 4514 or OpenSSL order, or one SAN of the registered kind.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { certificateSubjectMatches, parseDistinguishedName } from '../../src/oidc/mtls.ts';
import { createTestPki, type TestPki } from '../support/certificates.ts';

describe('certificate subject matching', () => {
  let pki: TestPki;
  let tppOne: X509Certificate;
  let server: X509Certificate;
  before(() => {
    pki = createTestPki();
    tppOne = new X509Certificate(pki.tppOne.cert);
    server = new X509Certificate(pki.server.cert);
  });
  after(() => pki.remove());

  const matches = (cert: X509Certificate, property: string, value: string) =>
    certificateSubjectMatches(cert, property, value);

  test('subject DN: RFC 4514 order, OpenSSL order, attribute names, case and spaces', () => {
    for (const dn of [
      'CN=tpp-one,O=Fintech One,C=GB',
      'C=GB, O=Fintech One, CN=tpp-one',
      'cn=TPP-ONE, o=fintech  one, c=gb',
      '2.5.4.3=tpp-one,2.5.4.10=Fintech One,2.5.4.6=GB',
      'commonName=tpp-one,organizationName=Fintech One,countryName=GB',
      'CN=tpp\\2Done,O=Fintech\\ One,C=GB',
    ])
      assert.equal(matches(tppOne, 'tls_client_auth_subject_dn', dn), true, dn);
    for (const dn of [
      'CN=tpp-one,O=Fintech One',
      'CN=tpp-one,O=Fintech One,C=US',
      'O=Fintech One,CN=tpp-one,C=GB',
      'CN=tpp-one,O=Fintech One,C=GB,OU=extra',
      'CN=tpp-one+O=Fintech One+C=GB,L=London',
      'not a DN',
      '',
    ])
      assert.equal(matches(tppOne, 'tls_client_auth_subject_dn', dn), false, dn);
    assert.equal(
      matches(
        new X509Certificate(pki.tppTwo.cert),
        'tls_client_auth_subject_dn',
        'CN=tpp-one,O=Fintech One,C=GB',
      ),
      false,
    );
  });

  test('a DN parses with escapes, and malformed ones do not', () => {
    assert.deepEqual(parseDistinguishedName('CN=Fintech\\, Inc.,C=GB'), [
      ['cn', 'fintech, inc.'],
      ['c', 'gb'],
    ]);
    assert.equal(parseDistinguishedName('=x'), undefined);
    assert.equal(parseDistinguishedName('CN'), undefined);
  });

  test('subject alternative names: DNS without case, URI and e-mail exactly, IP in any notation', () => {
    assert.equal(matches(tppOne, 'tls_client_auth_san_dns', 'TPP-ONE.example'), true);
    assert.equal(matches(tppOne, 'tls_client_auth_san_dns', 'tpp-two.example'), false);
    assert.equal(matches(tppOne, 'tls_client_auth_san_dns', 'example'), false);
    assert.equal(matches(tppOne, 'tls_client_auth_san_uri', 'https://tpp-one.example/app'), true);
    assert.equal(matches(tppOne, 'tls_client_auth_san_uri', 'https://tpp-one.example/'), false);
    assert.equal(matches(tppOne, 'tls_client_auth_san_email', 'ops@tpp-one.example'), true);
    assert.equal(matches(tppOne, 'tls_client_auth_san_email', 'dev@tpp-one.example'), false);
    // A DNS name is not an e-mail address or a URI, whatever its text.
    assert.equal(matches(tppOne, 'tls_client_auth_san_uri', 'tpp-one.example'), false);
    for (const ip of ['127.0.0.1', '::1', '0:0:0:0:0:0:0:1'])
      assert.equal(matches(server, 'tls_client_auth_san_ip', ip), true, ip);
    for (const ip of ['127.0.0.2', '::2', 'localhost'])
      assert.equal(matches(server, 'tls_client_auth_san_ip', ip), false, ip);
    assert.equal(matches(tppOne, 'tls_client_auth_san_ip', '127.0.0.1'), false);
    assert.equal(matches(tppOne, 'tls_client_auth_subject', 'CN=tpp-one'), false);
  });
});
