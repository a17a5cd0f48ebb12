// Every language has every message: a catalogue missing a key another has, a plural without the
// forms its language needs, or a key used in a template or in src/ but absent from English fails.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { VIEWS_DIR } from '../../src/http/views.ts';
import { loadCatalogues } from '../../src/i18n/catalogues.ts';

const catalogues = loadCatalogues();
const english = catalogues.get('en')!;

test('English and German catalogues exist', () => {
  assert.ok(catalogues.has('en'));
  assert.ok(catalogues.has('de'));
});

test('every catalogue has exactly the keys of every other', () => {
  for (const [a, ca] of catalogues) {
    for (const [b, cb] of catalogues) {
      const missing = Object.keys(ca).filter((k) => !(k in cb));
      assert.deepEqual(missing, [], `${b}.json lacks keys that ${a}.json has`);
    }
  }
});

test('plural messages have every form their language uses, and plain ones are not plural', () => {
  for (const [language, catalogue] of catalogues) {
    const needed = new Intl.PluralRules(language).resolvedOptions().pluralCategories;
    for (const [key, entry] of Object.entries(catalogue)) {
      const inEnglish = english[key];
      assert.equal(typeof entry, typeof inEnglish, `${language}: ${key} is plural in one only`);
      if (typeof entry === 'string') continue;
      for (const form of needed)
        assert.ok(entry[form] !== undefined, `${language}: ${key} lacks the "${form}" form`);
    }
  }
});

test('every {placeholder} of an English message is in its translations too', () => {
  const placeholders = (entry: unknown) =>
    [...new Set(JSON.stringify(entry).match(/\{\w+\}/g) ?? [])].sort();
  for (const [language, catalogue] of catalogues)
    for (const [key, entry] of Object.entries(catalogue))
      assert.deepEqual(placeholders(entry), placeholders(english[key]), `${language}: ${key}`);
});

/** Keys written literally in templates and sources (it.t('x'), msg('x'), PageError(.., 'x')...). */
function usedKeys(): Map<string, string> {
  const used = new Map<string, string>();
  const scan = (file: string, patterns: RegExp[]) => {
    const text = readFileSync(file, 'utf8');
    for (const p of patterns) for (const m of text.matchAll(p)) used.set(m[1]!, file);
  };
  for (const name of readdirSync(VIEWS_DIR).filter((n) => n.endsWith('.eta')))
    scan(join(VIEWS_DIR, name), [/it\.th?\(\s*'([^']+)'/g, /title:\s*'([^']+)'/g]);
  const src = join(VIEWS_DIR, '..', 'src');
  for (const name of readdirSync(src, { recursive: true }) as string[]) {
    if (!name.endsWith('.ts')) continue;
    scan(join(src, name), [
      /\bmsg\(\s*'([^']+)'/g,
      /\bt\(\s*'([a-z][\w.]*)'/g,
      /new PageError\(\s*\d+,\s*'([^']+)'/g,
      /\bpage(?:Key)?:\s*\{\s*key:\s*'([^']+)'/g,
    ]);
  }
  return used;
}

test('every key a template or handler uses is in the English catalogue', () => {
  const used = usedKeys();
  assert.ok(used.size > 20, 'keys were found at all');
  // A key ending in '.' is the prefix of keys made at run time ('consent.accessItem.' + a).
  const known = (key: string) =>
    key.endsWith('.') ? Object.keys(english).some((k) => k.startsWith(key)) : key in english;
  const absent = [...used].filter(([key]) => !known(key)).map(([k, f]) => `${k} (${f})`);
  assert.deepEqual(absent, []);
});
