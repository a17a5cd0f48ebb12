// The languages of Portcullis' pages, built once by the composition root: the catalogues, the
// default language (DEFAULT_LOCALE) and one Translator per request's choice.
import type { Logger } from '../log.ts';
import { type Catalogue, loadCatalogues } from './catalogues.ts';
import { type ChosenLocale, chooseLocale } from './choose.ts';
import { createTranslator, type Lookup, type Translator } from './translator.ts';

export interface LocaleRequest {
  /** The OIDC request's ui_locales (space-separated), when the page belongs to one. */
  uiLocales?: unknown;
  acceptLanguage?: string | undefined;
}

export interface I18n {
  /** The catalogues' languages, sorted. */
  locales: string[];
  defaultLocale: string;
  choose(request: LocaleRequest): ChosenLocale;
  translator(chosen: ChosenLocale | string): Translator;
  /** choose() then translator(). */
  forRequest(request: LocaleRequest): Translator;
}

export function createI18n(options: {
  defaultLocale: string;
  logger: Pick<Logger, 'warn'>;
  catalogues?: Map<string, Catalogue>;
}): I18n {
  const catalogues = options.catalogues ?? loadCatalogues();
  const locales = [...catalogues.keys()].sort();
  if (!catalogues.has(options.defaultLocale))
    throw new Error(`no catalogue for DEFAULT_LOCALE ${options.defaultLocale}`);
  const english = catalogues.get('en')!;
  const warned = new Set<string>();

  const lookup: Lookup = {
    entry(language, key) {
      const own = catalogues.get(language)?.[key];
      if (own !== undefined) return own;
      lookup.missing(language, key);
      return english[key];
    },
    missing(language, key) {
      const id = `${language}:${key}`;
      if (warned.has(id)) return;
      warned.add(id);
      options.logger.warn({ language, key }, 'message missing from the catalogue: English shown');
    },
  };
  // Translators are small and cached per tag (a bounded set: tags come from catalogues' matches).
  const cache = new Map<string, Translator>();
  const translator = (chosen: ChosenLocale | string): Translator => {
    const c = typeof chosen === 'string' ? { language: chosen, tag: chosen } : chosen;
    const id = `${c.language}|${c.tag}`;
    let t = cache.get(id);
    if (!t) {
      t = createTranslator(c, lookup);
      if (cache.size < 500) cache.set(id, t);
    }
    return t;
  };
  const choose = (request: LocaleRequest) => chooseLocale(locales, request, options.defaultLocale);
  return {
    locales,
    defaultLocale: options.defaultLocale,
    choose,
    translator,
    forRequest: (request) => translator(choose(request)),
  };
}
