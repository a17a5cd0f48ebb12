// The account page and its sub-pages in Chromium on a 390 px wide phone screen: nothing wider
// than the screen, buttons inside the card; the authenticator setup page has a way back; recovery
// codes in one column of whole codes, copied to the clipboard and downloaded as text; the demo
// callback page does not say "signed in" above an error.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { generateSync } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { manualClock } from '../../src/clock.ts';
import { BANK_API, PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { launchBrowser } from './support/browser.ts';

/**
 * Elements wider than the viewport, and buttons or links sticking out of the card (a script run
 * in the page: the tests are not compiled with the DOM's types).
 */
const OVERFLOW = `(() => {
  const width = document.documentElement.clientWidth;
  const card = document.querySelector('main.card').getBoundingClientRect();
  const wide = [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > width + 0.5)
    .map((e) => e.outerHTML.slice(0, 80));
  const outside = [...document.querySelectorAll('main.card button, main.card a')]
    .filter((e) => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && (r.right > card.right + 0.5 || r.left < card.left - 0.5);
    })
    .map((e) => e.outerHTML.slice(0, 80));
  return { scroll: document.documentElement.scrollWidth - width, wide, outside };
})()`;
const overflow = (page: Page) => page.evaluate(OVERFLOW);

describe('account page on a phone', () => {
  const clock = manualClock();
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    browser = await launchBrowser();
    server = await startTestServer({ clock });
    const { catalogue, accounts, roles } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      scopes: [{ name: 'accounts:read', description: 'See your accounts and balances' }],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read'] });
    await accounts.create({
      email: 'alice.with.a.rather.long.address@example-bank-customers.com',
      password: PASSWORD,
      roles: ['customer'],
    });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('fits 390 px; setup has a way back; recovery codes are whole, copied and downloaded', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      acceptDownloads: true,
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: server.issuer,
    });
    const page = await context.newPage();
    await page.goto(server.url('/account'));
    await page
      .getByLabel('Email')
      .fill('alice.with.a.rather.long.address@example-bank-customers.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.deepEqual(await overflow(page), { scroll: 0, wide: [], outside: [] });

    // The authenticator setup page, opened from the account page, leads back to it.
    await page.getByRole('link', { name: 'Set up' }).click();
    await page.getByRole('heading', { name: 'Add a second factor' }).waitFor();
    assert.deepEqual(await overflow(page), { scroll: 0, wide: [], outside: [] });
    await page.getByRole('link', { name: 'Back to your account' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();

    await page.getByRole('link', { name: 'Set up' }).click();
    const secret = await page.getByLabel('Key', { exact: true }).inputValue();
    await page
      .getByLabel('Code from the app')
      .fill(generateSync({ secret, epoch: Math.floor(clock.now() / 1000) }));
    await page.getByRole('button', { name: 'Add authenticator app' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    assert.deepEqual(await overflow(page), { scroll: 0, wide: [], outside: [] });

    // One column; each code on one line, whole.
    const codes = page.locator('[data-recovery-codes] code');
    const texts = await codes.allTextContents();
    assert.equal(texts.length, 10);
    const boxes = await codes.evaluateAll((list) =>
      list.map((c) => {
        const r = c.getBoundingClientRect();
        return { left: Math.round(r.left), height: r.height, lines: c.getClientRects().length };
      }),
    );
    assert.equal(new Set(boxes.map((b) => b.left)).size, 1, 'one column');
    assert.ok(
      boxes.every((b) => b.lines === 1),
      `every code on one line: ${JSON.stringify(boxes)}`,
    );

    // Copy puts the codes, one a line, on the clipboard.
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied.').waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), `${texts.join('\n')}\n`);

    // Download as text: a real download of the same codes.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download as text' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'recovery-codes.txt');
    assert.equal(await readFile((await download.path())!, 'utf8'), `${texts.join('\n')}\n`);

    await page.getByRole('link', { name: 'I have saved them: back to your account' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    // With a factor, sessions and activity, the page still fits the phone.
    assert.ok((await page.locator('tr[data-activity]').count()) >= 2);
    assert.deepEqual(await overflow(page), { scroll: 0, wide: [], outside: [] });
    await context.close();
  });

  test('the demo callback page shows an error without saying "signed in"', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(
      server.url(
        '/demo/callback?error=access_denied&error_description=the+user+denied+the+request',
      ),
    );
    await page.getByRole('heading', { name: 'Demo app: the sign-in did not complete' }).waitFor();
    assert.equal(await page.getByText('signed in', { exact: false }).count(), 0);
    await page.goto(server.url(`/demo/callback?code=${'x'.repeat(120)}`));
    await page.getByRole('heading', { name: 'Demo app: signed in' }).waitFor();
    assert.deepEqual(await overflow(page), { scroll: 0, wide: [], outside: [] });
    await page.close();
  });
});
