// The message catalogues: one JSON file per language in src/i18n/locales (a language is added by
// dropping a file), read once at start and checked for shape, so a bad file stops the start.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LOCALES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'locales');

/** A plural message: one text per CLDR plural category of its language ("other" always). */
export type PluralForms = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };
export type Entry = string | PluralForms;
export type Catalogue = Record<string, Entry>;

const CATEGORIES = new Set(['zero', 'one', 'two', 'few', 'many', 'other']);

export class CatalogueError extends Error {
  override name = 'CatalogueError';
}

function checkEntry(file: string, key: string, value: unknown): Entry {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const forms = Object.entries(value);
    const ok = forms.every(([k, v]) => CATEGORIES.has(k) && typeof v === 'string');
    if (ok && 'other' in value) return value as PluralForms;
  }
  throw new CatalogueError(
    `${file}: "${key}" must be a string or plural forms ({"one": "...", "other": "..."})`,
  );
}

/** Reads and checks one catalogue file. */
export function readCatalogue(file: string): Catalogue {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CatalogueError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new CatalogueError(`${file}: must be a JSON object of "key": "text"`);
  const out: Catalogue = {};
  for (const [key, value] of Object.entries(raw)) out[key] = checkEntry(file, key, value);
  return out;
}

/** Every catalogue of `dir`, by language tag (the file name: en.json -> "en"). */
export function loadCatalogues(dir = LOCALES_DIR): Map<string, Catalogue> {
  const catalogues = new Map<string, Catalogue>();
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json')) continue;
    const tag = basename(name, '.json');
    try {
      Intl.getCanonicalLocales(tag);
    } catch {
      throw new CatalogueError(
        `${join(dir, name)}: the file name must be a language tag (de.json)`,
      );
    }
    catalogues.set(tag, readCatalogue(join(dir, name)));
  }
  if (!catalogues.has('en')) throw new CatalogueError(`${dir}: en.json (the fallback) is missing`);
  return catalogues;
}

/** The languages there are catalogues for (for DEFAULT_LOCALE's check at start). */
export function availableLocales(dir = LOCALES_DIR): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .map((n) => basename(n, '.json'))
    .sort();
}
