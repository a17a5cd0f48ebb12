// The language a page formats amounts and dates in: the request's ui_locales first, then the
// browser's Accept-Language, then English. Only tags Intl knows are taken.
const supported = (tag: string): string | undefined => {
  try {
    return Intl.NumberFormat.supportedLocalesOf([tag])[0];
  } catch {
    return undefined; // not a well-formed language tag
  }
};

/** The first supported locale of `uiLocales` (space-separated), then of `acceptLanguage` (by q). */
export function pickLocale(uiLocales: unknown, acceptLanguage: string | undefined): string {
  const fromRequest = typeof uiLocales === 'string' ? uiLocales.split(' ') : [];
  const fromBrowser = (acceptLanguage ?? '')
    .split(',')
    .slice(0, 20)
    .map((part, index) => {
      const [tag, ...params] = part.trim().split(';');
      // A malformed weight (q=abc) counts as no preference for the tag at all.
      const weight = params.join(';').trim();
      const q = weight ? Number(/^q=([0-9.]+)$/.exec(weight)?.[1] ?? 0) : 1;
      return { tag: tag?.trim() ?? '', q: Number.isFinite(q) ? q : 0, index };
    })
    .filter((l) => l.tag && l.tag !== '*' && l.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map((l) => l.tag);
  for (const tag of [...fromRequest, ...fromBrowser].slice(0, 30)) {
    const found = tag ? supported(tag) : undefined;
    if (found) return found;
  }
  return 'en';
}
