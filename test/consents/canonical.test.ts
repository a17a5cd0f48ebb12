// The canonical form of authorization details: the same payment in any key order gives the same
// hash, any change to what was shown gives another; and the dynamic-linking challenge.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  canonicalHash,
  canonicalJson,
  dynamicLinkingChallenge,
} from '../../src/consents/canonical.ts';

const payment = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'EUR', amount: '1250.00' },
  creditorName: 'ACME GmbH',
  creditorAccount: { iban: 'DE89370400440532013000' },
  remittanceInformation: 'Invoice 42',
};
const reordered = {
  remittanceInformation: 'Invoice 42',
  creditorAccount: { iban: 'DE89370400440532013000' },
  creditorName: 'ACME GmbH',
  instructedAmount: { amount: '1250.00', currency: 'EUR' },
  type: 'payment_initiation',
};

describe('canonical form', () => {
  test('sorted keys, no whitespace', () => {
    assert.equal(
      canonicalJson(payment),
      '{"creditorAccount":{"iban":"DE89370400440532013000"},"creditorName":"ACME GmbH","instructedAmount":{"amount":"1250.00","currency":"EUR"},"remittanceInformation":"Invoice 42","type":"payment_initiation"}',
    );
    assert.equal(
      canonicalJson({ b: [3, { d: 1, c: null }], a: true }),
      '{"a":true,"b":[3,{"c":null,"d":1}]}',
    );
    // Keys sort by UTF-16 code units (RFC 8785), strings escape as JSON does.
    assert.equal(
      canonicalJson({ é: 1, z: 2, Z: 3, '\u0001': 'a"b' }),
      '{"\\u0001":"a\\"b","Z":3,"z":2,"é":1}',
    );
    assert.equal(canonicalJson([1.5, -0, 1e21]), '[1.5,0,1e+21]');
  });

  test('refuses what JSON cannot hold', () => {
    assert.throws(() => canonicalJson(Number.NaN), TypeError);
    assert.throws(() => canonicalJson({ a: Number.POSITIVE_INFINITY }), TypeError);
    assert.throws(() => canonicalJson({ a: () => 1 }), TypeError);
    assert.throws(() => canonicalJson(10n), TypeError);
  });

  test('the same payment in any key order: the same hash', () => {
    assert.equal(canonicalHash([payment]), canonicalHash([reordered]));
    const expected = createHash('sha256')
      .update(canonicalJson([payment]))
      .digest('base64url');
    assert.equal(canonicalHash([payment]), expected);
    assert.match(canonicalHash([payment]), /^[A-Za-z0-9_-]{43}$/);
  });

  test('a changed amount, payee, account or reference: another hash', () => {
    const base = canonicalHash([payment]);
    const changes = [
      { ...payment, instructedAmount: { currency: 'EUR', amount: '1250.01' } },
      { ...payment, instructedAmount: { currency: 'EUR', amount: '1250.0' } },
      { ...payment, instructedAmount: { currency: 'USD', amount: '1250.00' } },
      { ...payment, creditorName: 'ACME GmbH.' },
      { ...payment, creditorAccount: { iban: 'GB82WEST12345698765432' } },
      { ...payment, remittanceInformation: 'Invoice 43' },
    ];
    const hashes = new Set(changes.map((c) => canonicalHash([c])));
    assert.equal(hashes.size, changes.length);
    assert.ok(!hashes.has(base));
    // Order of details matters: they are shown in order.
    const other = { ...payment, creditorName: 'Other' };
    assert.notEqual(canonicalHash([payment, other]), canonicalHash([other, payment]));
  });

  test('the dynamic-linking challenge depends on the hash, the consent and the nonce', () => {
    const input = { canonicalHash: canonicalHash([payment]), consentId: 'cns_a', nonce: 'n1' };
    const challenge = dynamicLinkingChallenge(input);
    assert.match(challenge, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(dynamicLinkingChallenge({ ...input }), challenge);
    assert.notEqual(
      dynamicLinkingChallenge({
        ...input,
        canonicalHash: canonicalHash([{ ...payment, creditorName: 'X' }]),
      }),
      challenge,
    );
    assert.notEqual(dynamicLinkingChallenge({ ...input, consentId: 'cns_b' }), challenge);
    assert.notEqual(dynamicLinkingChallenge({ ...input, nonce: 'n2' }), challenge);
  });
});
