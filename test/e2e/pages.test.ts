// Every page a person can see, in English and German, at 390 and 1280 px: no serious or critical
// axe-core violation, no horizontal overflow, the right <html lang>, a German heading that is not
// the English one, and a screenshot of each in test/e2e/screenshots/ (issue 16, "Done when").
// One tour per language in one browser context: sign in once, then enrol, consent, approve...
import assert from 'node:assert/strict';
import { after, before, describe, type TestContext, test } from 'node:test';
import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { manualClock } from '../../src/clock.ts';
import { ACCOUNTS, accountAccess, PAYMENT, PAYMENTS } from '../oidc/richAuthorizationWorld.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { launchBrowser, startCallbackServer } from './support/browser.ts';
import { checkPage } from './support/pageCheck.ts';
import {
  authorize,
  backToApp,
  h1,
  languageContext,
  type PagesWorld,
  password,
  seedPages,
  submit,
} from './support/pagesWorld.ts';
import { docScreenshot, LOGO_SVG, loadedImages, THEME, writeTheme } from './support/theme.ts';

const LANGS = ['en', 'de'] as const;
type Lang = (typeof LANGS)[number];
const MFA = 'urn:portcullis:ac:mfa';

describe('every page at 390 and 1280 px, in English and German', () => {
  const clock = manualClock(Date.now());
  let server: TestServer;
  let browser: Browser;
  let w: PagesWorld;
  let app: Awaited<ReturnType<typeof startCallbackServer>>;
  /** The English heading of each page, which the German page must not repeat. */
  const english = new Map<string, string>();

  before(async () => {
    browser = await launchBrowser();
    // WebAuthn refuses IP addresses as relying party: the issuer is http://localhost:<port>.
    server = await startTestServer({ clock, hostname: 'localhost' });
    app = await startCallbackServer();
    w = await seedPages(server, LANGS, `${app.url}/callback`);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await app?.close();
  });

  for (const lang of LANGS) {
    test(`the tour in ${lang}`, async (t) => {
      const { context, page } = await languageContext(browser, lang);
      try {
        await tour(t, page, lang);
      } finally {
        await context.close();
      }
    });
  }

  /** Checks the page now loaded, once `ready` shows, as a subtest named after the page. */
  async function check(t: TestContext, page: Page, name: string, lang: Lang, ready: string) {
    await page
      .locator(ready)
      .first()
      .waitFor({ state: 'visible', timeout: 10_000 })
      .catch(async () => {
        throw new Error(`${name}: no ${ready} on ${page.url()} ("${await h1(page)}")`);
      });
    const { problems, heading } = await checkPage(page, name, lang);
    if (lang === 'en') english.set(name, heading);
    else if (english.get(name) === heading)
      problems.push(`the heading "${heading}" is the English one: the page is not translated`);
    await t.test(`${name} (${lang})`, () => {
      if (problems.length) assert.fail(`${name} in ${lang}:\n  ${problems.join('\n  ')}`);
    });
  }

  const code = (secret: string) => {
    clock.advance(30_000); // a new time step: a code is accepted once
    return generateSync({ secret, epoch: Math.floor(clock.now() / 1000) });
  };

  async function tour(t: TestContext, page: Page, lang: Lang) {
    const ui: Record<string, string> = lang === 'en' ? {} : { ui_locales: lang };
    const email = w.emailOf(lang);
    // A new sign-in that needs a second factor (level 2).
    const stronger = { scope: 'openid accounts:read', prompt: 'login', acr_values: MFA };

    // Pages without a session: an error, the demo client's callback (a code, then an error).
    await page.goto(server.url('/interaction/no-such-interaction'));
    await check(t, page, 'error', lang, 'h1');
    await page.goto(server.url('/demo/callback?code=Pq3xY7dKk2VbXr8wLm4T9sHj0cNf5aUe6gZi1oRt'));
    await check(t, page, 'demo-callback', lang, 'pre');
    await page.goto(
      server.url('/demo/callback?error=access_denied&error_description=the+user+cancelled'),
    );
    await check(t, page, 'demo-callback-error', lang, '[role="alert"]');

    // Sign in (a wrong password first) for account access of issue 13.
    await authorize(w, page, w.tpp, {
      scope: 'openid accounts:read',
      resource: ACCOUNTS,
      authorization_details: JSON.stringify([accountAccess()]),
      ...ui,
    });
    await check(t, page, 'login', lang, '#password');
    if (lang === 'en') await docScreenshot(page, 'login-default');
    await password(page, email, 'not the password');
    await check(t, page, 'login-error', lang, '#error');
    await password(page, email);
    await check(t, page, 'consent-account-access', lang, 'button[name="decision"]');
    await backToApp(w, page);

    // Plain scopes for another app.
    await authorize(w, page, w.reader, {
      scope: 'openid email accounts:read',
      resource: ACCOUNTS,
      prompt: 'consent',
      ...ui,
    });
    await check(t, page, 'consent-scopes', lang, 'button[name="decision"]');
    await backToApp(w, page);

    // An authenticator app from the account page: the QR code, then the recovery codes.
    await page.goto(server.url('/account/totp'));
    await check(t, page, 'enrol-totp', lang, '[data-totp-secret]');
    const secret = await page.locator('[data-totp-secret]').inputValue();
    await page.locator('#code').fill(code(secret));
    await submit(page, 'form[action="/account/totp"] button[type="submit"]');
    await check(t, page, 'recovery-codes', lang, '[data-recovery-codes]');

    // Signing in again now asks for the app code.
    await authorize(w, page, w.reader, { ...stronger, ...ui });
    await password(page, email);
    await check(t, page, 'second-factor-totp', lang, '#code');
    await page.locator('#code').fill(code(secret));
    await submit(page, 'form[action$="/totp"] button[type="submit"]');
    await backToApp(w, page);

    // A passkey from the account page (signed in with the app code a moment ago).
    await page.goto(server.url('/account/webauthn'));
    await check(t, page, 'enrol-passkey', lang, '#key-name');
    await page.locator('#key-name').fill('Laptop passkey');
    await Promise.all([
      page.waitForURL((url) => url.pathname === '/account'),
      page.locator('form[data-webauthn="register"] button[type="submit"]').click(),
    ]);

    // Signing in again offers the app code and the passkey; the passkey it is.
    await authorize(w, page, w.reader, { ...stronger, ...ui });
    await password(page, email);
    await check(t, page, 'second-factor-choice', lang, 'form[data-webauthn] button');
    await submit(page, 'form[data-webauthn] button[type="submit"]');
    await backToApp(w, page);

    // A payment shown for confirmation (refused: the tour only looks at it).
    await authorize(w, page, w.tpp, {
      scope: 'openid payments:write',
      resource: PAYMENTS,
      authorization_details: JSON.stringify([PAYMENT]),
      ...ui,
    });
    await check(t, page, 'consent-payment', lang, 'form[data-webauthn="payment"] button');
    await submit(page, 'button[name="decision"][value="deny"]');

    // The account page: factors, apps allowed, account access authorised.
    await page.goto(server.url('/account'));
    await check(t, page, 'account', lang, 'table');

    // A call centre's request waiting for approval (CIBA).
    await oidc.initiateBackchannelAuthentication(w.counter, {
      scope: 'openid accounts:read',
      login_hint: email,
      binding_message: 'Branch 9 / 250 EUR',
      resource: ACCOUNTS,
      ...ui,
    });
    await page.goto(server.url('/account/approvals'));
    await check(t, page, 'approvals', lang, '[data-approval]');

    // A TV: the code entry, the confirmation, the consent, and done.
    await page.goto(server.url('/device'));
    await check(t, page, 'device', lang, '#user_code');
    const started = await oidc.initiateDeviceAuthorization(w.tv, {
      scope: 'openid accounts:read',
      resource: ACCOUNTS,
      ...ui,
    });
    await page.locator('#user_code').fill(started.user_code);
    await submit(page, 'form button[type="submit"]');
    await check(t, page, 'device-confirm', lang, '#user-code');
    await submit(page, 'form:has(input[name="confirm"]) button[type="submit"]');
    await page.locator('button[name="decision"][value="approve"]').waitFor();
    await submit(page, 'button[name="decision"][value="approve"]');
    await check(t, page, 'device-done', lang, 'h1');

    // Signing out: the question, then the answer.
    await page.goto(server.url('/session/end'));
    await check(t, page, 'logout', lang, 'button[name="logout"]');
    await submit(page, 'button[name="logout"]');
    await check(t, page, 'logged-out', lang, 'h1');
  }

  test('the checks catch an unlabelled field, faint text, a wide element and a wrong lang', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    try {
      await page.setContent(
        '<!doctype html><html lang="en"><title>Bad page</title><body><main><h1>Bad page</h1>' +
          '<input type="text"><p style="color:#ccc;background:#fff">faint</p>' +
          '<div id="wide" style="width:600px">wide</div></main></body></html>',
      );
      const { problems } = await checkPage(page, 'self-test', 'de');
      const rules = problems.map((p) => p.replace(/^\d+px /, '').split(':')[0]);
      assert.deepEqual([...new Set(rules)].sort(), [
        '<html lang="en">, expected de',
        'axe color-contrast (serious)',
        'axe label (critical)',
        'overflow',
      ]);
      assert.match(
        problems.find((p) => p.startsWith('390px overflow')) ?? '',
        /div#wide right edge/,
      );
    } finally {
      await context.close();
    }
  });

  test('a themed login page shows the logo, the primary colour and the product name', async (t) => {
    // Another instance, with THEME_DIR (part 16A).
    const themed = await startTestServer({ env: { THEME_DIR: writeTheme() } });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    try {
      await page.goto(themed.url('/account'));
      await check(t, page, 'login-themed', 'en', '#password');
      const logos: string[] = [];
      for (const src of await loadedImages(page))
        if ((await (await page.request.get(src)).text()) === LOGO_SVG) logos.push(src);
      assert.equal(logos.length, 1, "the theme's logo is shown, once");
      assert.equal(
        await page.locator('form[action$="/login"] button[type="submit"]').evaluate(
          (button) =>
            (
              globalThis as unknown as {
                getComputedStyle(e: unknown): { backgroundColor: string };
              }
            ).getComputedStyle(button).backgroundColor,
        ),
        THEME.primaryRgb,
        'the sign-in button has the primary colour',
      );
      assert.match(await page.title(), new RegExp(THEME.productName));
      await docScreenshot(page, 'login-themed');
    } finally {
      await context.close();
      await themed.close();
    }
  });
});
