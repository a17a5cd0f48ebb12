// The words tests compare pages with, from the catalogues themselves (src/i18n/locales).
import { createI18n } from '../../src/i18n/i18n.ts';
import type { Message, Params } from '../../src/i18n/translator.ts';

const silent = { warn: () => {} };
export const testI18n = createI18n({ defaultLocale: 'en', logger: silent });

/** A message as an English page shows it (plain text, before HTML escaping). */
export const english = (message: Message, params?: Params): string =>
  testI18n.translator('en').t(message, params);

/** A message as a German page shows it. */
export const german = (message: Message, params?: Params): string =>
  testI18n.translator('de').t(message, params);
