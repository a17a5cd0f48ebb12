// IBAN checks (ISO 13616): the country's length and the mod-97 checksum. Only the electronic
// form is accepted (capitals, no spaces): the details are hashed and shown exactly as sent, so
// Portcullis never rewrites an account number a person approves.

/** IBAN length per country code (SWIFT IBAN registry). */
const LENGTHS: Record<string, number> = Object.fromEntries(
  (
    'AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 ' +
    'DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HN28 HR21 HU28 ' +
    'IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 ' +
    'MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 ' +
    'SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30'
  )
    .split(' ')
    .map((e) => [e.slice(0, 2), Number(e.slice(2))]),
);

/** ISO 7064 mod 97-10 over the rearranged IBAN, digit by digit (no big numbers needed). */
function mod97(iban: string): number {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    rest = (value >= 10 ? rest * 100 + value : rest * 10 + value) % 97;
  }
  return rest;
}

/** Why `iban` is not a valid IBAN in electronic form, or undefined when it is. */
export function ibanProblem(iban: string): string | undefined {
  if (/\s/.test(iban)) return 'must be written without spaces (electronic form)';
  if (/[a-z]/.test(iban)) return 'must be written in capitals (electronic form)';
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{1,30}$/.test(iban))
    return 'is not an IBAN (two letters, two check digits, then letters and digits)';
  const length = LENGTHS[iban.slice(0, 2)];
  if (length === undefined) return `has an unknown country code '${iban.slice(0, 2)}'`;
  if (iban.length !== length)
    return `must have ${length} characters for ${iban.slice(0, 2)}, not ${iban.length}`;
  if (mod97(iban) !== 1) return 'has a wrong checksum';
  return undefined;
}

export const isValidIban = (iban: string): boolean => ibanProblem(iban) === undefined;
