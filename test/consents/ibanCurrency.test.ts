// IBAN checks (length per country, mod-97, electronic form only) and ISO 4217 amounts written as
// decimal strings with at most the currency's minor units.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { amountProblem, minorUnits } from '../../src/consents/currency.ts';
import { ibanProblem, isValidIban } from '../../src/consents/iban.ts';

describe('IBAN', () => {
  test('valid IBANs of several countries', () => {
    for (const iban of [
      'DE89370400440532013000',
      'GB82WEST12345698765432',
      'FR1420041010050500013M02606',
      'NL91ABNA0417164300',
      'BE68539007547034',
      'NO9386011117947',
      'CH9300762011623852957',
      'IT60X0542811101000000123456',
      'ES9121000418450200051332',
      'MT84MALT011000012345MTLCAST001S',
    ])
      assert.equal(ibanProblem(iban), undefined, iban);
  });

  test('a wrong checksum: check digits or one changed character', () => {
    assert.equal(ibanProblem('DE88370400440532013000'), 'has a wrong checksum');
    assert.equal(ibanProblem('DE89370400440532013001'), 'has a wrong checksum');
    // Two adjacent digits swapped: mod 97 catches it.
    assert.equal(ibanProblem('DE89370400440532010300'), 'has a wrong checksum');
    assert.equal(isValidIban('GB82WEST12345698765433'), false);
  });

  test("a length that is not the country's", () => {
    assert.equal(ibanProblem('DE8937040044053201300'), 'must have 22 characters for DE, not 21');
    assert.equal(ibanProblem('NO93860111179470'), 'must have 15 characters for NO, not 16');
  });

  test('unknown country, and what is not an IBAN at all', () => {
    assert.equal(ibanProblem('ZZ89370400440532013000'), "has an unknown country code 'ZZ'");
    assert.match(ibanProblem('1234567890') ?? '', /is not an IBAN/);
    assert.match(ibanProblem('DE8937040044053201300!') ?? '', /is not an IBAN/);
    assert.match(ibanProblem('') ?? '', /is not an IBAN/);
  });

  test('policy: only the electronic form (capitals, no spaces) is accepted, never rewritten', () => {
    assert.equal(
      ibanProblem('DE89 3704 0044 0532 0130 00'),
      'must be written without spaces (electronic form)',
    );
    assert.equal(
      ibanProblem('de89370400440532013000'),
      'must be written in capitals (electronic form)',
    );
    assert.equal(
      ibanProblem('GB82west12345698765432'),
      'must be written in capitals (electronic form)',
    );
  });
});

describe('currency and amount', () => {
  test('ISO 4217 minor units', () => {
    assert.equal(minorUnits('EUR'), 2);
    assert.equal(minorUnits('JPY'), 0);
    assert.equal(minorUnits('BHD'), 3);
    assert.equal(minorUnits('CLF'), 4);
    for (const notACode of ['EUR1', 'eur', 'XXX', 'XAU', '', 'EURO'])
      assert.equal(minorUnits(notACode), undefined, notACode);
  });

  test('amounts with at most the minor units of their currency', () => {
    for (const [amount, currency] of [
      ['1250.00', 'EUR'],
      ['1250', 'EUR'],
      ['0.01', 'EUR'],
      ['1250.5', 'EUR'],
      ['1000', 'JPY'],
      ['0.005', 'BHD'],
      ['12.345', 'BHD'],
      ['999999999999999.99', 'EUR'],
    ])
      assert.equal(amountProblem(amount!, currency!), undefined, `${amount} ${currency}`);
  });

  test('JPY has no decimals, EUR two, BHD three', () => {
    assert.equal(
      amountProblem('1000.5', 'JPY'),
      "JPY has no minor units: '1000.5' must be a whole number",
    );
    assert.equal(
      amountProblem('1000.0', 'JPY'),
      "JPY has no minor units: '1000.0' must be a whole number",
    );
    assert.equal(amountProblem('1.001', 'EUR'), "EUR has 2 decimal places at most: '1.001' has 3");
    assert.equal(
      amountProblem('1.0001', 'BHD'),
      "BHD has 3 decimal places at most: '1.0001' has 4",
    );
  });

  test('refused: exponent, sign, leading zeros, zero, bare points, too many digits', () => {
    for (const amount of [
      '1e3',
      '-1',
      '+1',
      '01.00',
      '00',
      '1.',
      '.5',
      '1,00',
      ' 1',
      '1 ',
      '',
      'NaN',
      'Infinity',
      '0x10',
      '1000000000000000',
    ])
      assert.match(
        amountProblem(amount, 'EUR') ?? '',
        /is not a decimal amount/,
        JSON.stringify(amount),
      );
    assert.equal(amountProblem('0.00', 'EUR'), 'must be greater than zero');
    assert.equal(amountProblem('0', 'JPY'), 'must be greater than zero');
  });
});
