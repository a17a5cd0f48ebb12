// Which language a page speaks (ui_locales, then Accept-Language by q, then DEFAULT_LOCALE) and
// how its messages are filled in: parameters, plurals, markup, dates and amounts, the fallback.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Catalogue } from '../../src/i18n/catalogues.ts';
import { chooseLocale } from '../../src/i18n/choose.ts';
import { createI18n } from '../../src/i18n/i18n.ts';

const LANGS = ['de', 'en'];

test('ui_locales wins, then Accept-Language by preference, then the default', () => {
  const choose = (uiLocales: unknown, acceptLanguage?: string, fallback = 'en') =>
    chooseLocale(LANGS, { uiLocales, acceptLanguage }, fallback);
  assert.deepEqual(choose('de-DE fr', 'en-GB'), { language: 'de', tag: 'de-DE' });
  assert.deepEqual(choose('fr en', 'de'), { language: 'en', tag: 'en' }, 'first with a catalogue');
  assert.deepEqual(choose(undefined, 'fr;q=0.9, de-CH;q=0.5, en;q=0.4'), {
    language: 'de',
    tag: 'de-CH',
  });
  assert.deepEqual(choose('', 'fr-CH'), { language: 'en', tag: 'en' });
  assert.deepEqual(choose(undefined, undefined, 'de'), { language: 'de', tag: 'de' });
  assert.deepEqual(choose(undefined, 'fr', 'de'), { language: 'de', tag: 'de' });
});

test('malformed or unknown tags are skipped, never an error', () => {
  const choose = (uiLocales: unknown, acceptLanguage?: string) =>
    chooseLocale(LANGS, { uiLocales, acceptLanguage }, 'en').tag;
  assert.equal(choose('not_a_tag!! de', '*'), 'de');
  assert.equal(choose(['de'], 'x-invalid-$$, es;q=abc, de-AT'), 'de-AT');
  assert.equal(choose(undefined, '*, de;q=0'), 'en');
  assert.equal(choose('DE-de', undefined), 'de-DE', 'canonical case');
});

const warnings: unknown[] = [];
const catalogues = new Map<string, Catalogue>([
  [
    'en',
    {
      hello: 'Hello {name}',
      minutes: { one: '{count} minute', other: '{count} minutes' },
      rich: 'Continue to {client} <now>',
      only: 'Only in English',
    },
  ],
  ['de', { hello: 'Hallo {name}', minutes: { one: '{count} Minute', other: '{count} Minuten' } }],
]);
const i18n = createI18n({
  defaultLocale: 'en',
  logger: { warn: (o: unknown) => warnings.push(o) } as never,
  catalogues,
});

test('parameters, plurals, numbers and markup', () => {
  const de = i18n.translator({ language: 'de', tag: 'de-DE' });
  const en = i18n.translator('en');
  assert.equal(de.t('hello', { name: 'Ada' }), 'Hallo Ada');
  assert.equal(de.t({ key: 'minutes', params: { count: 1 } }), '1 Minute');
  assert.equal(de.t('minutes', { count: 1500 }), '1.500 Minuten');
  assert.equal(en.t('minutes', { count: 1500 }), '1,500 minutes');
  assert.equal(en.t({ text: 'as {it} is' }), 'as {it} is', 'a Text is not filled in');
  assert.equal(
    en.th('rich', { client: { strong: '<Bank & Co>' } }),
    'Continue to <strong>&lt;Bank &amp; Co&gt;</strong> &lt;now&gt;',
  );
  assert.equal(en.t('rich', { client: { strong: 'X' } }), 'Continue to X <now>');
});

test('dates and amounts follow the tag', () => {
  const de = i18n.translator({ language: 'de', tag: 'de-DE' });
  const when = new Date('2026-03-04T05:06:00Z');
  assert.equal(de.date(when, 'date'), '4. März 2026');
  assert.equal(de.amount('1250.00', 'EUR'), '1.250,00\u00a0€');
  assert.equal(i18n.translator({ language: 'en', tag: 'en-GB' }).amount('0.1', 'GBP'), '£0.10');
});

test('a key missing in a language shows English and warns once; an unknown key shows itself', () => {
  const de = i18n.translator('de');
  assert.equal(de.t('only'), 'Only in English');
  assert.equal(de.t('only'), 'Only in English');
  assert.deepEqual(warnings, [{ language: 'de', key: 'only' }]);
  assert.equal(de.t('nowhere.at.all'), 'nowhere.at.all');
  assert.deepEqual(warnings[1], { language: 'de', key: 'nowhere.at.all' });
  assert.equal(warnings.length, 2);
});

test('DEFAULT_LOCALE must have a catalogue', () => {
  assert.throws(
    () => createI18n({ defaultLocale: 'fr', logger: { warn() {} } as never, catalogues }),
    /no catalogue for DEFAULT_LOCALE fr/,
  );
});
