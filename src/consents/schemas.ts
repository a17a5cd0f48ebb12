// The JSON Schemas (2020-12) of the built-in authorization detail types (RFC 9396). What a schema
// cannot say (IBAN checksums, ISO 4217 codes, amounts in a currency's minor units, dates in the
// future) is checked in detailTypes.ts. A `description` on an anyOf is the error shown for it.

/** RFC 9396 section 2.2 common fields every type allows. */
const COMMON = {
  type: { type: 'string' },
  locations: {
    type: 'array',
    minItems: 1,
    maxItems: 10,
    items: { type: 'string', minLength: 1, maxLength: 2048 },
  },
  actions: {
    type: 'array',
    minItems: 1,
    maxItems: 20,
    uniqueItems: true,
    items: { type: 'string', minLength: 1, maxLength: 64 },
  },
  identifier: { type: 'string', minLength: 1, maxLength: 256 },
} as const;

/** An account: its IBAN, or an id in another scheme (e.g. a sort code and account number). */
export const ACCOUNT_SCHEMA = {
  type: 'object',
  properties: {
    iban: { type: 'string', minLength: 1, maxLength: 64 },
    schemeName: { type: 'string', minLength: 1, maxLength: 40 },
    identification: { type: 'string', minLength: 1, maxLength: 256 },
  },
  additionalProperties: false,
  description: 'needs either iban, or schemeName and identification (not both)',
  anyOf: [
    {
      required: ['iban'],
      not: { anyOf: [{ required: ['schemeName'] }, { required: ['identification'] }] },
    },
    { required: ['schemeName', 'identification'], not: { required: ['iban'] } },
  ],
} as const;

export const PAYMENT_INITIATION_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    ...COMMON,
    instructedAmount: {
      type: 'object',
      properties: {
        currency: { type: 'string' },
        amount: { type: 'string' },
      },
      required: ['currency', 'amount'],
      additionalProperties: false,
    },
    creditorName: { type: 'string', minLength: 1, maxLength: 140 },
    creditorAccount: ACCOUNT_SCHEMA,
    debtorAccount: ACCOUNT_SCHEMA,
    remittanceInformation: { type: 'string', minLength: 1, maxLength: 140 },
  },
  required: ['type', 'instructedAmount', 'creditorName', 'creditorAccount'],
  additionalProperties: false,
} as const;

export const ACCESS_KINDS = ['balances', 'transactions', 'details'] as const;

export const ACCOUNT_INFORMATION_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    ...COMMON,
    accounts: {
      description: 'must be "all" or a non-empty list of accounts',
      anyOf: [
        { const: 'all' },
        { type: 'array', minItems: 1, maxItems: 100, items: ACCOUNT_SCHEMA },
      ],
    },
    access: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { enum: ACCESS_KINDS },
    },
    expirationDateTime: { type: 'string' },
  },
  required: ['type', 'accounts', 'access', 'expirationDateTime'],
  additionalProperties: false,
} as const;
