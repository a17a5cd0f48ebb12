// Which language a page is shown in: the request's ui_locales (OpenID Connect) first, then the
// browser's Accept-Language by preference, then DEFAULT_LOCALE. Pure; no tag is trusted as given.

/** The language of the catalogue, and the tag that picked it (dates and amounts use its region). */
export interface ChosenLocale {
  /** A catalogue's language: "en", "de". */
  language: string;
  /** The requested tag that matched (canonical, e.g. "de-CH"), or the language itself. */
  tag: string;
}

const canonical = (tag: string): string | undefined => {
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined; // not a well-formed language tag
  }
};

/** Accept-Language's tags, most preferred first (a malformed q counts as no preference). */
export function acceptedTags(acceptLanguage: string | undefined): string[] {
  return (acceptLanguage ?? '')
    .split(',')
    .slice(0, 20)
    .map((part, index) => {
      const [tag, ...params] = part.trim().split(';');
      const weight = params.join(';').trim();
      const q = weight ? Number(/^q=([0-9.]+)$/.exec(weight)?.[1] ?? 0) : 1;
      return { tag: tag?.trim() ?? '', q: Number.isFinite(q) ? q : 0, index };
    })
    .filter((l) => l.tag && l.tag !== '*' && l.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map((l) => l.tag);
}

/** ui_locales: space-separated tags in order of preference (anything else is ignored). */
export function uiLocaleTags(uiLocales: unknown): string[] {
  return typeof uiLocales === 'string' ? uiLocales.split(' ').filter(Boolean) : [];
}

/**
 * The first requested tag whose language has a catalogue ("de-AT" matches "de"); else the
 * default. `available` are the catalogues' languages, `fallback` DEFAULT_LOCALE (one of them).
 */
export function chooseLocale(
  available: readonly string[],
  request: { uiLocales?: unknown; acceptLanguage?: string | undefined },
  fallback: string,
): ChosenLocale {
  const languages = new Map(available.map((l) => [l.toLowerCase(), l]));
  const tags = [...uiLocaleTags(request.uiLocales), ...acceptedTags(request.acceptLanguage)];
  for (const requested of tags.slice(0, 30)) {
    const tag = canonical(requested);
    if (!tag) continue;
    const exact = languages.get(tag.toLowerCase());
    if (exact) return { language: exact, tag };
    const base = languages.get(tag.split('-')[0]!.toLowerCase());
    if (base) return { language: base, tag };
  }
  return { language: fallback, tag: fallback };
}
