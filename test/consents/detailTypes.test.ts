// Validation of authorization_details: each refusal names the field at fault, in words a
// developer understands; valid details come back exactly as given.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DetailsError, validateAuthorizationDetails } from '../../src/consents/detailTypes.ts';

const NOW = new Date('2026-12-01T12:00:00Z');
const payment = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'EUR', amount: '1250.00' },
  creditorName: 'ACME GmbH',
  creditorAccount: { iban: 'DE89370400440532013000' },
};
const access = {
  type: 'account_information',
  accounts: 'all',
  access: ['balances'],
  expirationDateTime: '2027-03-01T00:00:00Z',
};

function refused(details: unknown, field: string, message: string | RegExp) {
  assert.throws(
    () => validateAuthorizationDetails(details, NOW),
    (err: unknown) => {
      assert.ok(err instanceof DetailsError, String(err));
      assert.equal(err.code, 'invalid_input');
      assert.equal(err.field, field);
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    },
  );
}

describe('authorization details validation', () => {
  test('valid details come back as given', () => {
    const full = [
      {
        ...payment,
        debtorAccount: { schemeName: 'UK.SortCodeAccountNumber', identification: '11223321325698' },
        remittanceInformation: 'Invoice 42',
        locations: ['https://payments.example'],
        actions: ['initiate'],
        identifier: 'pay-1',
      },
      {
        ...access,
        accounts: [{ iban: 'GB82WEST12345698765432' }],
        access: ['balances', 'details'],
      },
    ];
    assert.equal(validateAuthorizationDetails(full, NOW), full);
    assert.deepEqual(
      validateAuthorizationDetails(
        [{ ...payment, instructedAmount: { currency: 'JPY', amount: '1000' } }],
        NOW,
      ).length,
      1,
    );
  });

  test('the array itself', () => {
    refused({}, 'authorization_details', 'authorization_details must be a JSON array of objects');
    refused([], 'authorization_details', 'authorization_details must not be empty');
    refused(
      Array(11).fill(payment),
      'authorization_details',
      'authorization_details may hold at most 10 entries',
    );
    refused(
      [payment, 'x'],
      'authorization_details[1]',
      'authorization_details[1] must be an object',
    );
    refused(
      [{ amount: 1 }],
      'authorization_details[0].type',
      'authorization_details[0].type is required (a string)',
    );
    refused(
      [{ type: 'wire' }],
      'authorization_details[0].type',
      "unknown authorization details type 'wire'",
    );
  });

  test('payment_initiation: schema errors name the field', () => {
    const f = (path: string) => `authorization_details[0].${path}`;
    refused([{ ...payment, foo: 1 }], f('foo'), "unknown field 'foo'");
    refused(
      [{ ...payment, instructedAmount: { currency: 'EUR', amount: '1', fx: 1 } }],
      f('instructedAmount.fx'),
      "unknown field 'fx'",
    );
    refused(
      [{ ...payment, creditorName: undefined }],
      f('creditorName'),
      'creditorName is required',
    );
    refused(
      [{ ...payment, creditorName: '' }],
      f('creditorName'),
      'creditorName must not be empty',
    );
    refused(
      [{ ...payment, creditorName: 'x'.repeat(141) }],
      f('creditorName'),
      'creditorName must have at most 140 characters',
    );
    refused(
      [{ ...payment, remittanceInformation: 'x'.repeat(141) }],
      f('remittanceInformation'),
      'remittanceInformation must have at most 140 characters',
    );
    refused(
      [{ ...payment, instructedAmount: { currency: 'EUR' } }],
      f('instructedAmount.amount'),
      'instructedAmount.amount is required',
    );
    refused(
      [{ ...payment, instructedAmount: { currency: 'EUR', amount: 1250 } }],
      f('instructedAmount.amount'),
      'instructedAmount.amount must be a string',
    );
    refused(
      [{ ...payment, instructedAmount: 5 }],
      f('instructedAmount'),
      'instructedAmount must be an object',
    );
    refused(
      [{ ...payment, creditorAccount: {} }],
      f('creditorAccount'),
      'creditorAccount needs either iban, or schemeName and identification (not both)',
    );
    refused(
      [
        {
          ...payment,
          creditorAccount: { iban: 'DE89370400440532013000', schemeName: 'X', identification: '1' },
        },
      ],
      f('creditorAccount'),
      /needs either iban/,
    );
    refused(
      [{ ...payment, creditorAccount: { schemeName: 'X' } }],
      f('creditorAccount'),
      /needs either iban/,
    );
    refused(
      [{ ...payment, debtorAccount: { iban: 'DE89370400440532013000', bank: 'x' } }],
      f('debtorAccount.bank'),
      "unknown field 'bank'",
    );
    refused([{ ...payment, actions: [] }], f('actions'), 'actions must not be empty');
    refused(
      [{ ...payment, actions: ['a', 'a'] }],
      f('actions'),
      'actions lists the same value twice',
    );
  });

  test('payment_initiation: what a schema cannot check', () => {
    const f = (path: string) => `authorization_details[0].${path}`;
    refused(
      [{ ...payment, instructedAmount: { currency: 'EUR1', amount: '1' } }],
      f('instructedAmount.currency'),
      "currency 'EUR1' is not an ISO 4217 code",
    );
    refused(
      [{ ...payment, instructedAmount: { currency: 'EUR', amount: '1e3' } }],
      f('instructedAmount.amount'),
      /^instructedAmount.amount '1e3' is not a decimal amount/,
    );
    refused(
      [{ ...payment, instructedAmount: { currency: 'JPY', amount: '10.50' } }],
      f('instructedAmount.amount'),
      "instructedAmount.amount JPY has no minor units: '10.50' must be a whole number",
    );
    refused(
      [{ ...payment, instructedAmount: { currency: 'EUR', amount: '0.00' } }],
      f('instructedAmount.amount'),
      'instructedAmount.amount must be greater than zero',
    );
    refused(
      [{ ...payment, creditorAccount: { iban: 'DE89370400440532013001' } }],
      f('creditorAccount.iban'),
      'creditorAccount.iban has a wrong checksum',
    );
    refused(
      [{ ...payment, debtorAccount: { iban: 'DE89 3704 0044 0532 0130 00' } }],
      f('debtorAccount.iban'),
      'debtorAccount.iban must be written without spaces (electronic form)',
    );
    // The second detail at fault is named by its index.
    refused(
      [payment, { ...payment, creditorAccount: { iban: 'GB82WEST1234569876543' } }],
      'authorization_details[1].creditorAccount.iban',
      'creditorAccount.iban must have 22 characters for GB, not 21',
    );
  });

  test('names and references: no hidden characters that could change how they read', () => {
    const f = (path: string) => `authorization_details[0].${path}`;
    const hidden = 'must not contain control or bidirectional formatting characters';
    refused(
      [{ ...payment, creditorName: 'ACME \u202EHbmG' }],
      f('creditorName'),
      `creditorName ${hidden}`,
    );
    refused(
      [{ ...payment, creditorName: 'ACME\nGmbH' }],
      f('creditorName'),
      `creditorName ${hidden}`,
    );
    refused(
      [{ ...payment, remittanceInformation: 'Invoice\u2066 42' }],
      f('remittanceInformation'),
      `remittanceInformation ${hidden}`,
    );
    refused(
      [{ ...payment, creditorName: '   ' }],
      f('creditorName'),
      'creditorName must not be blank',
    );
    refused(
      [
        {
          ...payment,
          creditorAccount: { schemeName: 'UK.SortCode', identification: '1122\u200F33' },
        },
      ],
      f('creditorAccount.identification'),
      `creditorAccount.identification ${hidden}`,
    );
    // Letters of any script, and joiners within words, are fine.
    const names = ['Müller & Söhne', 'شركة المدفوعات', '株式会社アクメ', 'می\u200Cخواهم'];
    for (const creditorName of names)
      assert.equal(validateAuthorizationDetails([{ ...payment, creditorName }], NOW).length, 1);
  });

  test('account_information', () => {
    const f = (path: string) => `authorization_details[0].${path}`;
    refused(
      [{ ...access, accounts: 'some' }],
      f('accounts'),
      'accounts must be "all" or a non-empty list of accounts',
    );
    refused(
      [{ ...access, accounts: [] }],
      f('accounts'),
      'accounts must be "all" or a non-empty list of accounts',
    );
    refused(
      [{ ...access, accounts: [{ iban: 'GB82WEST12345698765432' }, { number: '1' }] }],
      f('accounts[1].number'),
      "unknown field 'number'",
    );
    refused(
      [{ ...access, accounts: [{ iban: 'GB82WEST12345698765431' }] }],
      f('accounts[0].iban'),
      'accounts[0].iban has a wrong checksum',
    );
    refused([{ ...access, access: [] }], f('access'), 'access must not be empty');
    refused(
      [{ ...access, access: ['balances', 'balances'] }],
      f('access'),
      'access lists the same value twice',
    );
    refused(
      [{ ...access, access: ['payments'] }],
      f('access[0]'),
      "access[0] must be one of 'balances', 'transactions', 'details'",
    );
    refused(
      [{ ...access, expirationDateTime: undefined }],
      f('expirationDateTime'),
      'expirationDateTime is required',
    );
    refused(
      [{ ...access, expirationDateTime: '2027-03-01' }],
      f('expirationDateTime'),
      /is not an RFC 3339 date-time/,
    );
    refused(
      [{ ...access, expirationDateTime: '2027-02-29T00:00:00Z' }],
      f('expirationDateTime'),
      /is not an RFC 3339 date-time/,
    );
    refused(
      [{ ...access, expirationDateTime: '2027-02-28T00:00:00' }],
      f('expirationDateTime'),
      /is not an RFC 3339 date-time/,
    );
    refused(
      [{ ...access, expirationDateTime: '2026-12-01T12:00:00Z' }],
      f('expirationDateTime'),
      'expirationDateTime must be in the future',
    );
    refused(
      [{ ...access, expirationDateTime: '2027-05-30T12:00:01Z' }],
      f('expirationDateTime'),
      'expirationDateTime must be at most 180 days ahead (PSD2 limits account access to 180 days)',
    );
    assert.equal(
      validateAuthorizationDetails([{ ...access, expirationDateTime: '2027-05-30T12:00:00Z' }], NOW)
        .length,
      1,
    );
    assert.equal(
      validateAuthorizationDetails(
        [{ ...access, expirationDateTime: '2027-05-30T14:00:00+02:00' }],
        NOW,
      ).length,
      1,
    );
  });
});
