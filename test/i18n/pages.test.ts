// The language of the pages over real HTTP: the login's ui_locales beat the browser's
// Accept-Language, which beats DEFAULT_LOCALE (here German); <html lang> follows, and the answers
// to the login's forms stay in the language the login started in.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HttpBrowser, type Page } from '../support/browserless.ts';
import { type Bank, seedBank } from '../support/fixtures.ts';
import { english, german } from '../support/i18n.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const langOf = (page: Page) => /<html lang="([^"]+)">/.exec(page.html)?.[1];
const headingOf = (page: Page) => /<h1>([^<]*)<\/h1>/.exec(page.html)?.[1];
const alertOf = (page: Page) => /role="alert" id="error">([^<]*)</.exec(page.html)?.[1];

describe('page languages', () => {
  let server: TestServer;
  let bank: Bank;

  before(async () => {
    server = await startTestServer({ env: { DEFAULT_LOCALE: 'de' } });
    bank = await seedBank(server);
  });
  after(() => server.close());

  const loginPage = async (acceptLanguage: string | undefined, uiLocales?: string) => {
    const browser = new HttpBrowser(acceptLanguage ? { 'accept-language': acceptLanguage } : {});
    const url = bank.authorizationUrl({ extra: uiLocales ? { ui_locales: uiLocales } : {} });
    const page = await browser.open(url, server.issuer);
    assert.equal(page.status, 200);
    return { browser, page };
  };

  test('DEFAULT_LOCALE when the browser names no language there is a catalogue for', async () => {
    for (const accept of [undefined, 'fr-FR, it;q=0.5']) {
      const { page } = await loginPage(accept);
      assert.equal(langOf(page), 'de');
      assert.equal(headingOf(page), german('login.title'));
      assert.match(page.html, /<label for="password">Passwort<\/label>/);
      assert.match(page.html, /<title>Anmelden · Portcullis<\/title>/);
    }
  });

  test('Accept-Language beats DEFAULT_LOCALE, by preference', async () => {
    const { page } = await loginPage('fr;q=0.9, en-GB;q=0.8, de;q=0.5');
    assert.equal(langOf(page), 'en-GB');
    assert.equal(headingOf(page), 'Sign in');
    assert.equal(headingOf(page), english('login.title'));
  });

  test('ui_locales beats Accept-Language, and the login keeps its language', async () => {
    const { browser, page } = await loginPage('en-US', 'de-AT en');
    assert.equal(langOf(page), 'de-AT');
    assert.equal(headingOf(page), 'Anmelden');
    // The answer to the form (a POST without ui_locales) is in the login's language too.
    const wrong = await browser.submit(
      page,
      /\/login$/,
      { email: 'alice@example.com', password: 'not the password' },
      server.issuer,
    );
    assert.equal(wrong.status, 401);
    assert.equal(langOf(wrong), 'de-AT');
    assert.equal(
      alertOf(wrong),
      'Die E-Mail-Adresse oder das Passwort ist nicht richtig, oder das Konto kann sich derzeit nicht anmelden.',
    );
    assert.equal(alertOf(wrong), german('login.error.generic'));
  });

  test('ui_locales without a catalogue fall through to the next choice', async () => {
    const { page } = await loginPage('en', 'fr-CA ja');
    assert.equal(langOf(page), 'en');
    assert.equal(headingOf(page), 'Sign in');
  });

  test('error pages speak the browser language', async () => {
    const res = await fetch(server.url('/interaction/unknown'), {
      headers: { accept: 'text/html', 'accept-language': 'de-CH' },
    });
    const html = await res.text();
    assert.match(html, /<html lang="de-CH">/);
    assert.match(html, new RegExp(`<h1>${german('error.title')}</h1>`));
    assert.match(html, /Diese Anmeldeanfrage ist abgelaufen/);
  });
});
