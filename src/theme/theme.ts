// The look a bank puts on every page: product name, colours, logo and favicon, read once at start
// from THEME_DIR (theme.json, logo.svg|png, favicon.ico|png|svg) over the default in views/static.
// theme.json is checked with zod: colours must be CSS colour literals, so nothing else reaches CSS.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The default theme's files (the same folder src/http/views.ts renders from). */
const STATIC_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'views', 'static');

/** The colours, each a CSS custom property of /static/theme.css (primaryStrong: --pc-primary-strong). */
export const DEFAULT_COLORS = {
  primary: '#2563eb',
  primaryStrong: '#1d4ed8',
  onPrimary: '#ffffff',
  background: '#f3f4f6',
  surface: '#ffffff',
  text: '#1b1f24',
  muted: '#57606a',
  border: '#9aa1a9',
  line: '#e5e7eb',
  notice: '#eef2ff',
  error: '#991b1b',
  errorBackground: '#fef2f2',
  codeBackground: '#f3f4f6',
} as const;
export type ColorName = keyof typeof DEFAULT_COLORS;

/** Hex, a colour function of numbers (rgb(), hsl(), oklch()...), or a colour keyword. */
const COLOR =
  /^(?:#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})|(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\((?:[-+0-9.%\s,/]|deg|turn|rad|none)+\)|[a-z]{3,30})$/i;

const color = z
  .string()
  .max(80)
  .regex(COLOR, 'must be a CSS colour: #1d4ed8, rgb(29 78 216), hsl(...) or a colour name');

const colorsShape = Object.fromEntries(
  Object.keys(DEFAULT_COLORS).map((name) => [name, color.optional()]),
) as Record<ColorName, z.ZodOptional<typeof color>>;

export const themeSchema = z.strictObject({
  productName: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(60, 'must be at most 60 characters')
    .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters'),
  colors: z.strictObject(colorsShape).default({}),
});

export interface Asset {
  body: Buffer;
  type: string;
  /** The served path, e.g. /static/theme/logo.svg. */
  path: string;
}

export interface Theme {
  productName: string;
  colors: Record<ColorName, string>;
  logo: Asset;
  favicon: Asset;
  /** /static/theme.css: the colours as CSS custom properties. */
  css: string;
}

export class ThemeError extends Error {
  override name = 'ThemeError';
}

const TYPES: Record<string, string> = {
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
};
const MAX_ASSET_BYTES = 512 * 1024;

function asset(dir: string, base: string, exts: string[], path: (ext: string) => string) {
  for (const ext of exts) {
    const file = join(dir, `${base}.${ext}`);
    if (!existsSync(file)) continue;
    if (statSync(file).size > MAX_ASSET_BYTES)
      throw new ThemeError(`${file} is larger than ${MAX_ASSET_BYTES / 1024} KiB`);
    return { body: readFileSync(file), type: TYPES[ext]!, path: path(ext) };
  }
  return undefined;
}

/** primaryStrong -> --pc-primary-strong (the name views/static/portcullis.css uses). */
export const cssProperty = (name: string) =>
  `--pc-${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The CSS of the colours: only validated literals, one custom property each. */
export function themeCss(colors: Record<ColorName, string>): string {
  const lines = Object.entries(colors).map(([name, value]) => `  ${cssProperty(name)}: ${value};`);
  return `/* Generated from theme.json (THEME_DIR) at start. */\n:root {\n${lines.join('\n')}\n}\n`;
}

function readThemeJson(dir: string): z.infer<typeof themeSchema> {
  const file = join(dir, 'theme.json');
  if (!existsSync(file)) throw new ThemeError(`${file} is missing`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ThemeError(`${file} is not valid JSON (${(err as Error).message})`);
  }
  const parsed = themeSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'theme.json';
    throw new ThemeError(`${file}: ${where} ${issue.message}`);
  }
  return parsed.data;
}

/** The default theme, or THEME_DIR's over it; throws ThemeError with one clear line. */
export function loadTheme(dir: string | undefined): Theme {
  const staticDir = STATIC_DIR;
  const defaults = {
    logo: asset(staticDir, 'logo', ['svg'], () => '/static/logo.svg')!,
    favicon: asset(staticDir, 'favicon', ['ico'], () => '/favicon.ico')!,
  };
  if (!dir) {
    const colors = { ...DEFAULT_COLORS };
    return { productName: 'Portcullis', colors, ...defaults, css: themeCss(colors) };
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ThemeError(`${dir} is not a directory`);
  const json = readThemeJson(dir);
  const colors = { ...DEFAULT_COLORS, ...json.colors } as Record<ColorName, string>;
  return {
    productName: json.productName,
    colors,
    logo: asset(dir, 'logo', ['svg', 'png'], (ext) => `/static/theme/logo.${ext}`) ?? defaults.logo,
    favicon: asset(dir, 'favicon', ['ico', 'png', 'svg'], () => '/favicon.ico') ?? defaults.favicon,
    css: themeCss(colors),
  };
}
