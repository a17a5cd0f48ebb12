// A test theme for THEME_DIR (part 16A): a bank's name, primary colour, logo and favicon, and the
// screenshots for the README (docs/screenshots/, written only when SAVE_DOC_SCREENSHOTS=1).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

export const THEME = {
  productName: 'Nordbank',
  primary: '#0b5d3b',
  /** The primary colour as the browser computes it. */
  primaryRgb: 'rgb(11, 93, 59)',
};

export const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40" viewBox="0 0 160 40">
<rect width="40" height="40" rx="8" fill="${THEME.primary}"/>
<text x="50" y="27" font-family="sans-serif" font-size="20" fill="${THEME.primary}">Nordbank</text>
</svg>
`;

const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="${THEME.primary}"/></svg>
`;

/** Writes the theme to a fresh directory; returns its path. */
export function writeTheme(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-theme-'));
  writeFileSync(
    join(dir, 'theme.json'),
    JSON.stringify({ productName: THEME.productName, colors: { primary: THEME.primary } }, null, 2),
  );
  writeFileSync(join(dir, 'logo.svg'), LOGO_SVG);
  writeFileSync(join(dir, 'favicon.svg'), FAVICON_SVG);
  return dir;
}

/** The srcs of the page's images that loaded (an image that failed has no natural width). */
export async function loadedImages(page: Page): Promise<string[]> {
  return (await page.evaluate(
    'Array.from(document.images).filter((i) => i.complete && i.naturalWidth > 0).map((i) => i.src)',
  )) as string[];
}

/** A README screenshot of the page as it first shows, at a desktop size. */
export async function docScreenshot(page: Page, name: string): Promise<void> {
  if (process.env.SAVE_DOC_SCREENSHOTS !== '1') return;
  mkdirSync(join('docs', 'screenshots'), { recursive: true });
  await page.setViewportSize({ width: 1024, height: 720 });
  await page.screenshot({ path: join('docs', 'screenshots', `${name}.png`) });
}
