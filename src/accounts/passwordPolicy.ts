// Password rules per NIST SP 800-63B: 8 to 256 characters after NFKC normalisation (one code
// point is one character), no composition rules, no truncation, and no common or easily guessed
// password (zxcvbn's dictionaries plus the person's own email and name), refused with the reason.
import { createRequire } from 'node:module';
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { invalid } from '../errors.ts';

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;
/** zxcvbn scores 0-4; 3 means "safely unguessable: moderate protection from offline attacks". */
const MIN_SCORE = 3;

/** The form every password is hashed and compared in. */
export const normalizePassword = (password: string) => password.normalize('NFKC');

// The dictionaries take some 50 MB once loaded: a server that only verifies passwords (every
// sign-in) never needs them, so they load on the first password set, synchronously.
const require = createRequire(import.meta.url);
let zxcvbn: ZxcvbnFactory | undefined;
function estimator(): ZxcvbnFactory {
  if (zxcvbn) return zxcvbn;
  const { ZxcvbnFactory: Factory } = require('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core');
  const common =
    require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
  const en = require('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en');
  zxcvbn = new Factory({
    dictionary: { ...common.dictionary, ...en.dictionary },
    graphs: common.adjacencyGraphs,
    translations: en.translations,
  });
  return zxcvbn;
}

/** Words from the person's email and name that a password must not be built on. */
function personalWords(email: string, name: string): string[] {
  const local = email.split('@')[0] ?? '';
  const words = [email, local, name, ...`${local} ${name}`.split(/[^\p{L}\p{N}]+/u)];
  return [
    ...new Set(words.map((w) => w.toLowerCase().normalize('NFKC')).filter((w) => w.length >= 3)),
  ];
}

/** Throws DomainError('invalid_input', reason, 'password') when the password may not be used. */
export function checkPassword(password: string, person: { email: string; name?: string }): void {
  const normalized = normalizePassword(password);
  const length = [...normalized].length;
  if (length < MIN_PASSWORD_LENGTH) {
    throw invalid(`Use at least ${MIN_PASSWORD_LENGTH} characters.`, 'password');
  }
  if (length > MAX_PASSWORD_LENGTH) {
    throw invalid(`Use at most ${MAX_PASSWORD_LENGTH} characters.`, 'password');
  }
  const words = personalWords(person.email, person.name ?? '');
  const lower = normalized.toLowerCase();
  if (words.some((w) => lower.includes(w))) {
    throw invalid('Do not use your name or email address in your password.', 'password');
  }
  const result = estimator().check(normalized, words);
  if (result.score < MIN_SCORE) {
    const warning = result.feedback.warning ?? 'This password is too easy to guess.';
    const suggestion = result.feedback.suggestions[0];
    throw invalid(suggestion ? `${warning} ${suggestion}` : warning, 'password');
  }
}
