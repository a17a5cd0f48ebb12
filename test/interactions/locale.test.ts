// The language amounts and dates are formatted in: ui_locales, then Accept-Language by q, then English.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pickLocale } from '../../src/interactions/locale.ts';

test('ui_locales wins, then Accept-Language by preference, then English', () => {
  assert.equal(pickLocale('de-DE fr', 'en-GB'), 'de-DE');
  assert.equal(pickLocale(undefined, 'fr;q=0.5, nl-NL, en;q=0.8'), 'nl-NL');
  assert.equal(pickLocale('', 'fr-CH'), 'fr-CH');
  assert.equal(pickLocale(undefined, undefined), 'en');
});

test('malformed or unknown tags are skipped, never an error', () => {
  assert.equal(pickLocale('not_a_tag!! de', '*'), 'de');
  assert.equal(pickLocale(['de'], 'x-invalid-$$, es;q=abc, it'), 'it');
  assert.equal(pickLocale(undefined, '*, en;q=0'), 'en');
});
