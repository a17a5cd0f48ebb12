// A page's words and formats in one language: t() looks a key up in the chosen catalogue (English
// when the key is missing there, with one warning), fills in {parameters}, picks plural forms
// with Intl.PluralRules, and formats dates, numbers and amounts with Intl.
import type { Entry } from './catalogues.ts';
import type { ChosenLocale } from './choose.ts';

/** A value for a {placeholder}: numbers and dates are formatted for the language. */
export type Param = string | number | Date | Rich;
export type Params = Record<string, Param | undefined>;
/** A parameter shown with markup by th(): strong text, code, a list of codes, a link (escaped). */
export type Rich =
  | { strong: string; class?: string }
  | { code: string }
  | { codes: string[] }
  | { href: string; text: string };

/** A message to show later (handlers pass these to templates): a key and its parameters. */
export interface Msg {
  key: string;
  params?: Params;
}
export const msg = (key: string, params?: Params): Msg => (params ? { key, params } : { key });
/** Text that is not in the catalogues (written by the domain or a protocol library): shown as it is. */
export interface Text {
  text: string;
}
/** What t() and th() take: a key, a Msg, or a Text. */
export type Message = string | Msg | Text;

export interface Translator {
  /** The catalogue's language ("de"); the tag for <html lang> and formats ("de-CH"). */
  language: string;
  tag: string;
  /** Plain text (escape it as any text: eta's <%= does). `message` is a key or a Msg. */
  t(message: Message, params?: Params): string;
  /** HTML: the text escaped, Rich parameters as <strong>, <code> or <a> (for eta's <%~). */
  th(message: Message, params?: Params): string;
  /** UTC: 'date' (4 March 2026), 'dateTime' (4 Mar 2026, 05:06), 'time' (05:06). */
  date(value: Date | string | number, style?: 'date' | 'dateTime' | 'time'): string;
  number(value: number): string;
  /** "a, b and c" in the language (Intl.ListFormat). */
  list(items: string[]): string;
  /** An amount from its decimal string (never a float): "1.250,00 €". */
  amount(decimal: string, currency: string): string;
}

export interface Lookup {
  /** The entry of `key` in `language`, English when missing there (warned once); undefined if none. */
  entry(language: string, key: string): Entry | undefined;
  /** Logged once per language and key. */
  missing(language: string, key: string): void;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const isText = (m: Message): m is Text => typeof m !== 'string' && 'text' in m;
const isRich = (v: unknown): v is Rich =>
  typeof v === 'object' && v !== null && !(v instanceof Date);

export function createTranslator(chosen: ChosenLocale, lookup: Lookup): Translator {
  const { language, tag } = chosen;
  const plurals = new Intl.PluralRules(tag);
  const numbers = new Intl.NumberFormat(tag);
  const lists = new Intl.ListFormat(tag, { style: 'long', type: 'conjunction' });
  const dates = {
    date: new Intl.DateTimeFormat(tag, { dateStyle: 'long', timeZone: 'UTC' }),
    dateTime: new Intl.DateTimeFormat(tag, {
      dateStyle: 'medium',
      timeStyle: 'short',
      timeZone: 'UTC',
    }),
    time: new Intl.DateTimeFormat(tag, { timeStyle: 'short', timeZone: 'UTC' }),
  };

  const date = (value: Date | string | number, style: 'date' | 'dateTime' | 'time' = 'dateTime') =>
    dates[style].format(value instanceof Date ? value : new Date(value));

  function plain(value: Param | undefined): string {
    if (value === undefined) return '';
    if (typeof value === 'number') return numbers.format(value);
    if (value instanceof Date) return date(value);
    if (!isRich(value)) return value;
    if ('text' in value) return value.text;
    if ('strong' in value) return value.strong;
    return 'codes' in value ? lists.format(value.codes) : value.code;
  }

  function html(value: Param | undefined): string {
    if (!isRich(value)) return escapeHtml(plain(value));
    if ('strong' in value) {
      const cls = value.class ? ` class="${escapeHtml(value.class)}"` : '';
      return `<strong${cls}>${escapeHtml(value.strong)}</strong>`;
    }
    if ('code' in value) return `<code>${escapeHtml(value.code)}</code>`;
    if ('codes' in value)
      return lists
        .formatToParts(value.codes)
        .map((p) =>
          p.type === 'element' ? `<code>${escapeHtml(p.value)}</code>` : escapeHtml(p.value),
        )
        .join('');
    return `<a href="${escapeHtml(value.href)}">${escapeHtml(value.text)}</a>`;
  }

  function text(
    message: string | Msg,
    extra: Params | undefined,
  ): { text: string; params: Params } {
    const key = typeof message === 'string' ? message : message.key;
    const params = { ...(typeof message === 'string' ? {} : message.params), ...extra };
    const entry = lookup.entry(language, key);
    if (entry === undefined) return { text: key, params };
    if (typeof entry === 'string') return { text: entry, params };
    const count = typeof params.count === 'number' ? params.count : 0;
    const form = plurals.select(count);
    if (entry[form] === undefined) lookup.missing(language, `${key}#${form}`);
    return { text: entry[form] ?? entry.other, params };
  }

  /** Fills {name} placeholders; text outside them goes through `outside`, values through `inside`. */
  function fill(
    source: string,
    params: Params,
    outside: (s: string) => string,
    inside: (v: Param | undefined) => string,
  ): string {
    let out = '';
    let last = 0;
    for (const m of source.matchAll(/\{(\w+)\}/g)) {
      out += outside(source.slice(last, m.index)) + inside(params[m[1]!]);
      last = m.index + m[0].length;
    }
    return out + outside(source.slice(last));
  }

  return {
    language,
    tag,
    t(message, params) {
      if (isText(message)) return message.text;
      const { text: source, params: all } = text(message, params);
      return fill(source, all, (s) => s, plain);
    },
    th(message, params) {
      if (isText(message)) return escapeHtml(message.text);
      const { text: source, params: all } = text(message, params);
      return fill(source, all, escapeHtml, html);
    },
    date,
    number: (value) => numbers.format(value),
    list: (items) => lists.format(items),
    amount: (decimal, currency) =>
      new Intl.NumberFormat(tag, { style: 'currency', currency }).format(decimal as `${number}`),
  };
}
