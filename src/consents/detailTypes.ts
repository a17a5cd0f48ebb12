// The authorization detail types Portcullis knows (RFC 9396) and the validation of a request's
// authorization_details: the JSON Schema of each type, then what a schema cannot check.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { DomainError } from '../errors.ts';
import { amountProblem, minorUnits } from './currency.ts';
import { ibanProblem } from './iban.ts';
import { ACCOUNT_INFORMATION_SCHEMA, PAYMENT_INITIATION_SCHEMA } from './schemas.ts';

export const DETAIL_TYPES = ['payment_initiation', 'account_information'] as const;
export type DetailType = (typeof DETAIL_TYPES)[number];
export type AuthorizationDetail = { type: string; [k: string]: unknown };

export const isDetailType = (type: unknown): type is DetailType =>
  typeof type === 'string' && (DETAIL_TYPES as readonly string[]).includes(type);

/** At most this many details in one request. */
export const MAX_DETAILS = 10;
/** Account access may be granted for at most 180 days (PSD2 RTS Art. 10). */
export const MAX_ACCOUNT_ACCESS_DAYS = 180;

/** A detail that is not valid; `field` names it, e.g. authorization_details[0].instructedAmount.amount. */
export class DetailsError extends DomainError {
  declare readonly field: string;
  constructor(message: string, field: string) {
    super('invalid_input', message, field);
    this.name = 'DetailsError';
  }
}

const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictRequired: false });
const VALIDATORS: Record<DetailType, ValidateFunction> = {
  payment_initiation: ajv.compile(PAYMENT_INITIATION_SCHEMA),
  account_information: ajv.compile(ACCOUNT_INFORMATION_SCHEMA),
};

/** '/creditorAccount/iban' -> 'creditorAccount.iban'; '/accounts/0' -> 'accounts[0]'. */
const dotted = (pointer: string): string =>
  pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, p) => (/^\d+$/.test(p) ? `${path}[${p}]` : path ? `${path}.${p}` : p), '');

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

const PRIORITY = ['additionalProperties', 'required', 'type', 'anyOf', 'not'];

/** The one schema error to report: the deepest, the most telling; as a message and a field path. */
function explain(errors: ErrorObject[]): { path: string; message: string } {
  // An anyOf's own description speaks for the branches that failed at its level.
  const alternatives = errors.filter((e) => e.keyword === 'anyOf');
  const kept = errors.filter(
    (e) =>
      !alternatives.some(
        (a) =>
          a !== e &&
          e.instancePath === a.instancePath &&
          e.schemaPath.startsWith(`${a.schemaPath}/`),
      ),
  );
  const depth = (e: ErrorObject) => e.instancePath.split('/').length;
  const rank = (e: ErrorObject) => {
    const i = PRIORITY.indexOf(e.keyword);
    return i < 0 ? PRIORITY.length : i;
  };
  kept.sort((a, b) => depth(b) - depth(a) || rank(a) - rank(b));
  const e = kept[0]!;
  const path = dotted(e.instancePath);
  const name = path || 'the detail';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return {
        path: join(path, String(p.additionalProperty)),
        message: `unknown field '${String(p.additionalProperty)}'`,
      };
    case 'required':
      return {
        path: join(path, String(p.missingProperty)),
        message: `${join(path, String(p.missingProperty))} is required`,
      };
    case 'type':
      return {
        path,
        message: `${name} must be ${/^[aeiou]/.test(String(p.type)) ? 'an' : 'a'} ${String(p.type)}`,
      };
    case 'minLength':
      return { path, message: `${name} must not be empty` };
    case 'maxLength':
      return { path, message: `${name} must have at most ${String(p.limit)} characters` };
    case 'minItems':
      return { path, message: `${name} must not be empty` };
    case 'maxItems':
      return { path, message: `${name} must have at most ${String(p.limit)} entries` };
    case 'uniqueItems':
      return { path, message: `${name} lists the same value twice` };
    case 'enum':
      return {
        path,
        message: `${name} must be one of ${(p.allowedValues as unknown[]).map((v) => `'${String(v)}'`).join(', ')}`,
      };
    default: {
      const description = (e.parentSchema as { description?: string } | undefined)?.description;
      return { path, message: `${name} ${description ?? 'is not valid'}` };
    }
  }
}

type Fail = (path: string, message: string) => never;

function checkAccount(account: unknown, path: string, fail: Fail): void {
  const { schemeName, identification } = account as Record<string, unknown>;
  checkText(schemeName, `${path}.schemeName`, fail);
  checkText(identification, `${path}.identification`, fail);
  const iban = (account as { iban?: string }).iban;
  if (iban === undefined) return;
  const problem = ibanProblem(iban);
  if (problem) fail(`${path}.iban`, `${path}.iban ${problem}`);
}

/** RFC 3339 date-time with a time zone (Z or ±hh:mm). */
const RFC3339 =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** The date's day exists in its month (Date.parse would take 2027-02-30 as 2 March). */
function realDay(at: string): boolean {
  const [y, m, d] = at.slice(0, 10).split('-').map(Number) as [number, number, number];
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/**
 * Control characters and bidirectional formatting characters: they could make the payee or the
 * reference read differently on the consent page from what is stored and hashed.
 */
const HIDDEN = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;

function checkText(value: unknown, path: string, fail: Fail): void {
  if (typeof value !== 'string') return;
  if (HIDDEN.test(value))
    fail(path, `${path} must not contain control or bidirectional formatting characters`);
  if (!value.trim()) fail(path, `${path} must not be blank`);
}

function checkPayment(d: AuthorizationDetail, fail: Fail): void {
  checkText(d.creditorName, 'creditorName', fail);
  checkText(d.remittanceInformation, 'remittanceInformation', fail);
  const { currency, amount } = d.instructedAmount as { currency: string; amount: string };
  if (minorUnits(currency) === undefined)
    fail('instructedAmount.currency', `currency '${currency}' is not an ISO 4217 code`);
  const problem = amountProblem(amount, currency);
  if (problem) fail('instructedAmount.amount', `instructedAmount.amount ${problem}`);
  checkAccount(d.creditorAccount, 'creditorAccount', fail);
  if (d.debtorAccount !== undefined) checkAccount(d.debtorAccount, 'debtorAccount', fail);
}

function checkAccountInformation(d: AuthorizationDetail, now: Date, fail: Fail): void {
  if (Array.isArray(d.accounts))
    for (const [i, a] of d.accounts.entries()) checkAccount(a, `accounts[${i}]`, fail);
  const at = d.expirationDateTime as string;
  const when = RFC3339.test(at) && realDay(at) ? Date.parse(at) : Number.NaN;
  if (Number.isNaN(when))
    fail(
      'expirationDateTime',
      `expirationDateTime '${at}' is not an RFC 3339 date-time with a time zone (e.g. 2027-01-31T23:59:59Z)`,
    );
  if (when <= now.getTime()) fail('expirationDateTime', 'expirationDateTime must be in the future');
  if (when > now.getTime() + MAX_ACCOUNT_ACCESS_DAYS * 86_400_000)
    fail(
      'expirationDateTime',
      `expirationDateTime must be at most ${MAX_ACCOUNT_ACCESS_DAYS} days ahead (PSD2 limits account access to ${MAX_ACCOUNT_ACCESS_DAYS} days)`,
    );
}

/**
 * Validates a parsed authorization_details array against the built-in JSON Schemas and the checks
 * a schema cannot do (IBAN checksum, ISO 4217 code, decimal with the currency's minor units,
 * expiry in the future); throws DetailsError naming the field at fault. Returns the details.
 */
export function validateAuthorizationDetails(details: unknown, now: Date): AuthorizationDetail[] {
  const top = 'authorization_details';
  if (!Array.isArray(details))
    throw new DetailsError('authorization_details must be a JSON array of objects', top);
  if (details.length === 0) throw new DetailsError('authorization_details must not be empty', top);
  if (details.length > MAX_DETAILS)
    throw new DetailsError(`authorization_details may hold at most ${MAX_DETAILS} entries`, top);
  details.forEach((detail, i) => {
    const at = `${top}[${i}]`;
    const fail: Fail = (path, message) => {
      throw new DetailsError(message, path ? `${at}.${path}` : at);
    };
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail))
      fail('', `${at} must be an object`);
    const type = (detail as { type?: unknown }).type;
    if (typeof type !== 'string') fail('type', `${at}.type is required (a string)`);
    if (!isDetailType(type)) fail('type', `unknown authorization details type '${String(type)}'`);
    const validate = VALIDATORS[type as DetailType];
    if (!validate(detail)) {
      const { path, message } = explain(validate.errors ?? []);
      fail(path, message);
    }
    const d = detail as AuthorizationDetail;
    if (type === 'payment_initiation') checkPayment(d, fail);
    else checkAccountInformation(d, now, fail);
  });
  return details as AuthorizationDetail[];
}
