// Password rules per NIST SP 800-63B: 8 to 256 characters after NFKC normalisation (one code
// point is one character), no composition rules, no truncation, and no common or easily guessed
// password (zxcvbn's dictionaries plus the person's own email and name), refused with the reason.
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';
import { invalid } from '../errors.ts';

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;
/** zxcvbn scores 0-4; 3 means "safely unguessable: moderate protection from offline attacks". */
const MIN_SCORE = 3;

/** The form every password is hashed and compared in. */
export const normalizePassword = (password: string) => password.normalize('NFKC');

let zxcvbn: ZxcvbnFactory | undefined;
function estimator(): ZxcvbnFactory {
  zxcvbn ??= new ZxcvbnFactory({
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
