// Checks one page as a person sees it, at each width: axe-core (serious and critical violations),
// horizontal overflow (and the widest elements causing it), <html lang>, and a PNG screenshot.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

export const WIDTHS = [390, 1280] as const;
export const SCREENSHOTS = join('test', 'e2e', 'screenshots');

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

interface AxeNode {
  target: unknown[];
  failureSummary?: string;
}
interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: AxeNode[];
}
interface Overflow {
  scrollWidth: number;
  innerWidth: number;
  widest: string[];
}

/**
 * axe-core into the page. The pages' CSP (script-src 'self') refuses an inline script tag, so the
 * source is evaluated through the DevTools protocol, which the CSP does not govern.
 */
async function injectAxe(page: Page): Promise<void> {
  if (await page.evaluate('typeof window.axe === "object"')) return;
  await page.evaluate(AXE_SOURCE);
}

/** Serious and critical violations, one line each: rule, impact, help and the nodes' selectors. */
export async function axeProblems(page: Page): Promise<string[]> {
  await injectAxe(page);
  const violations = (await page.evaluate(
    'axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations)',
  )) as AxeViolation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `axe ${v.id} (${v.impact}): ${v.help}; nodes: ${v.nodes
          .slice(0, 6)
          .map((n) => n.target.join(' '))
          .join(' | ')}${v.nodes.length > 6 ? ` (+${v.nodes.length - 6} more)` : ''}`,
    );
}

/**
 * The document's scroll width against the viewport, and the widest elements sticking out of it
 * (not counting those inside a scrolling or clipping box that itself fits). A string: tsx would
 * wrap a function's inner functions in a helper the page does not have.
 */
const MEASURE_OVERFLOW = `(() => {
  const innerWidth = window.innerWidth;
  const scrollWidth = document.scrollingElement ? document.scrollingElement.scrollWidth : 0;
  function clippedInside(el) {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible' && a.getBoundingClientRect().right <= innerWidth)
        return true;
    }
    return false;
  }
  function describe(el, right) {
    const id = el.id ? '#' + el.id : '';
    const classes = Array.from(el.classList).map((c) => '.' + c).join('');
    const text = (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
    return el.tagName.toLowerCase() + id + classes + ' right edge ' + Math.round(right) + 'px "' + text + '"';
  }
  const widest = Array.from(document.body.querySelectorAll('*'))
    .map((el) => ({ el, right: el.getBoundingClientRect().right }))
    .filter((x) => x.right > innerWidth + 0.5 && !clippedInside(x.el))
    .sort((a, b) => b.right - a.right)
    .slice(0, 5)
    .map((x) => describe(x.el, x.right));
  return { scrollWidth, innerWidth, widest };
})()`;

export async function overflowProblems(page: Page): Promise<string[]> {
  const o = (await page.evaluate(MEASURE_OVERFLOW)) as Overflow;
  if (o.scrollWidth <= o.innerWidth) return [];
  return [
    `overflow: page is ${o.scrollWidth}px wide in a ${o.innerWidth}px viewport; widest: ${
      o.widest.join(' | ') || '(none found outside scrolling boxes)'
    }`,
  ];
}

export interface CheckedPage {
  /** Problems found, each prefixed with the width they were seen at. */
  problems: string[];
  /** The page's first heading, to compare languages. */
  heading: string;
}

/**
 * Checks the loaded page at every width: axe, overflow, `<html lang>` against `lang`, and a
 * full-page screenshot at test/e2e/screenshots/<name>-<lang>-<width>.png.
 */
export async function checkPage(page: Page, name: string, lang: string): Promise<CheckedPage> {
  await page.waitForLoadState('load');
  mkdirSync(SCREENSHOTS, { recursive: true });
  const height = page.viewportSize()?.height ?? 900;
  const problems: string[] = [];
  const htmlLang = await page.evaluate('document.documentElement.lang');
  if (String(htmlLang).split('-')[0] !== lang)
    problems.push(`<html lang="${htmlLang}">, expected ${lang}`);
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height });
    for (const p of [...(await overflowProblems(page)), ...(await axeProblems(page))])
      problems.push(`${width}px ${p}`);
    await page.screenshot({
      path: join(SCREENSHOTS, `${name}-${lang}-${width}.png`),
      fullPage: true,
    });
  }
  const heading = String(
    await page.evaluate('document.querySelector("h1")?.textContent?.trim() ?? ""'),
  );
  return { problems, heading };
}
