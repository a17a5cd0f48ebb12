// How details read on the consent page: amounts formatted from the decimal string for the
// currency and language, account numbers masked, account access with its end date.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { maskAccount, presentDetail } from '../../src/consents/present.ts';

const payment = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'EUR', amount: '1250.00' },
  creditorName: 'ACME GmbH',
  creditorAccount: { iban: 'DE89370400440532013000' },
};

describe('presenting details', () => {
  test('a payment: amount for the currency and language, payee, masked accounts, reference', () => {
    assert.deepEqual(presentDetail(payment, 'en'), {
      kind: 'payment',
      amount: '€1,250.00',
      payee: 'ACME GmbH',
      payeeAccount: 'DE89 •••• 3000',
    });
    const full = presentDetail(
      {
        ...payment,
        debtorAccount: { iban: 'GB82WEST12345698765432' },
        remittanceInformation: 'Invoice 42',
      },
      'de',
    );
    assert.deepEqual(full, {
      kind: 'payment',
      amount: '1.250,00\u00a0€',
      payee: 'ACME GmbH',
      payeeAccount: 'DE89 •••• 3000',
      payerAccount: 'GB82 •••• 5432',
      reference: 'Invoice 42',
    });
  });

  test('amounts are exact beyond what a double holds, with the minor units of the currency', () => {
    const amount = (currency: string, value: string, locale = 'en') =>
      (
        presentDetail({ ...payment, instructedAmount: { currency, amount: value } }, locale) as {
          amount: string;
        }
      ).amount;
    assert.equal(amount('EUR', '999999999999999.99'), '€999,999,999,999,999.99');
    assert.equal(amount('EUR', '0.1'), '€0.10');
    assert.equal(amount('JPY', '1000'), '¥1,000');
    assert.equal(amount('BHD', '12.345'), 'BHD\u00a012.345');
    assert.equal(amount('EUR', '1250.00', 'fr'), '1\u202f250,00\u00a0€');
    // An unusable locale falls back to English rather than failing the page.
    assert.equal(amount('EUR', '1250.00', 'not a locale!'), '€1,250.00');
  });

  test('masking: country and check digits and the last four; scheme ids keep their last four', () => {
    assert.equal(maskAccount({ iban: 'NO9386011117947' }), 'NO93 •••• 7947');
    assert.equal(
      maskAccount({ schemeName: 'UK.SortCodeAccountNumber', identification: '11223321325698' }),
      'UK.SortCodeAccountNumber •••• 5698',
    );
    assert.equal(maskAccount({ schemeName: 'X', identification: '1234' }), 'X ••••');
  });

  test('account access: accounts (or all), what is shared and until when', () => {
    const access = {
      type: 'account_information',
      accounts: [{ iban: 'DE89370400440532013000' }, { iban: 'GB82WEST12345698765432' }],
      access: ['balances', 'transactions'],
      expirationDateTime: '2027-03-01T00:00:00Z',
    };
    assert.deepEqual(presentDetail(access, 'en'), {
      kind: 'accounts',
      accounts: ['DE89 •••• 3000', 'GB82 •••• 5432'],
      access: ['balances', 'transactions'],
      until: 'March 1, 2027',
    });
    const all = presentDetail({ ...access, accounts: 'all' }, 'de');
    assert.deepEqual(all, {
      kind: 'accounts',
      accounts: ['All your accounts'],
      access: ['balances', 'transactions'],
      until: '1. März 2027',
    });
  });

  test('an unknown type cannot be presented', () => {
    assert.throws(() => presentDetail({ type: 'wire' }, 'en'), TypeError);
  });
});
