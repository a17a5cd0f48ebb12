// Assurance levels: 1 password, 2 password + one-time code, 3 phishing-resistant (WebAuthn).
// Each level has an acr value (configurable) and logins record amr values from RFC 8176.
export type Level = 1 | 2 | 3;

export interface AcrValues {
  1: string;
  2: string;
  3: string;
}

export const DEFAULT_ACR: AcrValues = {
  1: 'urn:portcullis:ac:password',
  2: 'urn:portcullis:ac:mfa',
  3: 'urn:portcullis:ac:phishing-resistant',
};

export function createAssurance(acr: AcrValues) {
  const byAcr = new Map<string, Level>([
    [acr[1], 1],
    [acr[2], 2],
    [acr[3], 3],
  ]);
  return {
    acr,
    /** acr values in increasing strength, as discovery lists them. */
    values: [acr[1], acr[2], acr[3]],
    acrFor: (level: Level) => acr[level],
    /** The level an acr value stands for; 0 for an unknown or missing value. */
    levelOf: (value: unknown): Level | 0 =>
      typeof value === 'string' ? (byAcr.get(value) ?? 0) : 0,
  };
}

export type Assurance = ReturnType<typeof createAssurance>;
