// ISO 4217 currencies in use with their minor units, and the check of an amount written as a
// decimal string in one of them. Amounts are never turned into JS numbers.

const BY_MINOR_UNITS: Record<number, string> = {
  0: 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF',
  2:
    'AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN ' +
    'BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP ' +
    'GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP ' +
    'LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR ' +
    'NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN ' +
    'SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ' +
    'ZMW ZWG',
  3: 'BHD IQD JOD KWD LYD OMR TND',
  4: 'CLF UYW',
};

const MINOR_UNITS = new Map<string, number>(
  Object.entries(BY_MINOR_UNITS).flatMap(([units, codes]) =>
    codes.split(' ').map((code) => [code, Number(units)] as const),
  ),
);

/** Minor units of an ISO 4217 currency in use (2 for EUR, 0 for JPY, 3 for BHD), or undefined. */
export const minorUnits = (code: string): number | undefined => MINOR_UNITS.get(code);

/** At most 15 digits before the point: amounts stay exact in every consumer, even a double. */
const AMOUNT = /^(0|[1-9]\d{0,14})(\.(\d+))?$/;

/**
 * Why `amount` is not a valid amount of `currency` (a decimal string greater than zero with at
 * most the currency's minor units, no exponent, sign or leading zero), or undefined when it is.
 */
export function amountProblem(amount: string, currency: string): string | undefined {
  const units = minorUnits(currency);
  const m = AMOUNT.exec(amount);
  if (!m) {
    return `'${amount}' is not a decimal amount (digits with an optional decimal point, e.g. "1250.00"; no sign, exponent or leading zeros)`;
  }
  const fraction = m[3] ?? '';
  if (units !== undefined && fraction.length > units) {
    return units === 0
      ? `${currency} has no minor units: '${amount}' must be a whole number`
      : `${currency} has ${units} decimal places at most: '${amount}' has ${fraction.length}`;
  }
  if (!/[1-9]/.test(amount)) return 'must be greater than zero';
  return undefined;
}
