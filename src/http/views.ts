// Server-rendered pages: eta templates from views/, escaped by default, cached in production.
// Every page gets the words of its language (it.t, it.th, it.date, it.amount; src/i18n/) and the
// theme (it.theme) without handlers passing them.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type Koa from 'koa';
import type { I18n } from '../i18n/i18n.ts';
import type { Translator } from '../i18n/translator.ts';

export const VIEWS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'views');

/** What the layout shows of the theme (src/theme/). */
export interface PageTheme {
  productName: string;
  /** The served logo's path, e.g. /static/theme/logo.svg. */
  logo: string;
  favicon: string;
}

export const DEFAULT_PAGE_THEME: PageTheme = {
  productName: 'Portcullis',
  logo: '/static/logo.svg',
  favicon: '/favicon.ico',
};

export interface Views {
  /** Renders `template` in the language of `tr`. */
  render(template: string, data: Record<string, unknown>, tr: Translator): string;
  /** The language of this request: its login's ui_locales, Accept-Language, DEFAULT_LOCALE. */
  translatorFor(ctx: Koa.Context): Translator;
  /** render() in the language of this request. */
  page(ctx: Koa.Context, template: string, data: Record<string, unknown>): string;
}

/**
 * Pages of a login take the OIDC request's ui_locales: the interaction bridge records them on
 * the request (src/oidc/bridge.ts) when it loads the interaction.
 */
export function setUiLocales(ctx: Koa.Context, uiLocales: unknown): void {
  ctx.state.uiLocales = uiLocales;
}

export function createViews(options: { cache: boolean; i18n: I18n; theme?: PageTheme }): Views {
  const eta = new Eta({
    views: VIEWS_DIR,
    cache: options.cache,
    autoEscape: true,
    autoTrim: false,
  });
  const theme = options.theme ?? DEFAULT_PAGE_THEME;
  const render = (template: string, data: Record<string, unknown>, tr: Translator) =>
    eta.render(template, {
      ...data,
      t: tr.t,
      th: tr.th,
      date: tr.date,
      number: tr.number,
      amount: tr.amount,
      list: tr.list,
      lang: tr.tag,
      theme,
    });
  const translatorFor = (ctx: Koa.Context) =>
    options.i18n.forRequest({
      uiLocales: ctx.state.uiLocales,
      acceptLanguage: ctx.get('accept-language') || undefined,
    });
  return {
    render,
    translatorFor,
    page: (ctx, template, data) => render(template, data, translatorFor(ctx)),
  };
}
