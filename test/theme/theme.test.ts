// Branding: THEME_DIR's product name, colours, logo and favicon on every page, served from here;
// the default theme (so /favicon.ico is never 404); a bad theme.json stops the start with one line.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { loadTheme } from '../../src/theme/theme.ts';
import { assertOneLineError, runCli } from '../support/cli.ts';
import { startTestServer, type TestServer, testSecrets } from '../support/server.ts';

/** A PNG of one pixel: enough to tell the served logo is this one. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
const FAVICON = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>');

function themeDir(json: unknown, files: Record<string, Buffer> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-theme-'));
  writeFileSync(join(dir, 'theme.json'), typeof json === 'string' ? json : JSON.stringify(json));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  return dir;
}

const BANK = {
  productName: 'Rivers Bank',
  colors: { primary: '#0a7d4f', primaryStrong: 'rgb(6 90 56)', background: 'honeydew' },
};

describe('a themed server', () => {
  let server: TestServer;
  before(async () => {
    const dir = themeDir(BANK, { 'logo.png': PNG, 'favicon.svg': FAVICON });
    server = await startTestServer({ env: { THEME_DIR: dir } });
  });
  after(() => server.close());

  test('pages show the product name and logo, and load the theme and favicon', async () => {
    // An error page is a page like any other: same layout.
    const res = await fetch(server.url('/interaction/nothing-here'), {
      headers: { accept: 'text/html' },
    });
    const html = await res.text();
    assert.match(html, /<title>[^<]+ · Rivers Bank<\/title>/);
    assert.match(html, /<span class="brand-name">Rivers Bank<\/span>/);
    assert.match(html, /<img class="brand-logo" src="\/static\/theme\/logo\.png"/);
    assert.match(html, /<link rel="icon" href="\/favicon\.ico">/);
    assert.match(html, /<link rel="stylesheet" href="\/static\/theme\.css">/);
    assert.doesNotMatch(html, /Portcullis/);
  });

  test('serves the colours as CSS custom properties, the logo and the favicon', async () => {
    const css = await fetch(server.url('/static/theme.css'));
    assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
    const text = await css.text();
    assert.match(text, /--pc-primary: #0a7d4f;/);
    assert.match(text, /--pc-primary-strong: rgb\(6 90 56\);/);
    assert.match(text, /--pc-background: honeydew;/);
    assert.match(text, /--pc-text: #1b1f24;/, 'colours not set keep the default');

    const logo = await fetch(server.url('/static/theme/logo.png'));
    assert.equal(logo.status, 200);
    assert.equal(logo.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await logo.arrayBuffer()), PNG);

    const icon = await fetch(server.url('/favicon.ico'));
    assert.equal(icon.headers.get('content-type'), 'image/svg+xml');
    assert.deepEqual(Buffer.from(await icon.arrayBuffer()), FAVICON);
  });
});

describe('the default theme', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('has a favicon, a logo and the default colours', async () => {
    const icon = await fetch(server.url('/favicon.ico'));
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get('content-type'), 'image/x-icon');
    const logo = await fetch(server.url('/static/logo.svg'));
    assert.equal(logo.status, 200);
    assert.match(await logo.text(), /^<svg /);
    assert.match(
      await (await fetch(server.url('/static/theme.css'))).text(),
      /--pc-primary: #2563eb;/,
    );
    const html = await (
      await fetch(server.url('/interaction/x'), { headers: { accept: 'text/html' } })
    ).text();
    assert.match(html, /<span class="brand-name">Portcullis<\/span>/);
    assert.match(html, /src="\/static\/logo\.svg"/);
  });
});

describe('a bad theme is refused at start', () => {
  const refused = (json: unknown, message: string) => {
    const dir = themeDir(json);
    assert.throws(
      () => loadConfig({ NODE_ENV: 'test', THEME_DIR: dir, ...testSecrets() }),
      (err: Error) => {
        assert.equal(
          err.message,
          `Invalid configuration: THEME_DIR ${join(dir, 'theme.json')}: ${message}`,
        );
        return true;
      },
    );
  };

  test('colours must be CSS colour literals: nothing else reaches the CSS', () => {
    const colour = 'must be a CSS colour: #1d4ed8, rgb(29 78 216), hsl(...) or a colour name';
    for (const bad of [
      'red; } body { display: none',
      'url(https://evil.example/x.png)',
      'var(--x)',
      '#12345',
      'rgb(1 2 3); color: red',
      'expression(alert(1))',
    ])
      refused({ productName: 'X', colors: { primary: bad } }, `colors.primary ${colour}`);
  });

  test('the product name is required, unknown settings are refused, JSON must parse', () => {
    refused({ colors: {} }, 'productName Invalid input: expected string, received undefined');
    refused({ productName: '  ' }, 'productName must not be empty');
    refused({ productName: 'X', colors: { primry: '#fff' } }, 'colors Unrecognized key: "primry"');
    const dir = themeDir('{ "productName": ');
    assert.throws(
      () => loadConfig({ NODE_ENV: 'test', THEME_DIR: dir, ...testSecrets() }),
      /^ConfigError: Invalid configuration: THEME_DIR .*theme\.json is not valid JSON/,
    );
  });

  test('a missing folder or theme.json is named', () => {
    const empty = mkdtempSync(join(tmpdir(), 'portcullis-theme-'));
    assert.throws(() => loadTheme(empty), { message: `${join(empty, 'theme.json')} is missing` });
    const nowhere = join(empty, 'nowhere');
    assert.throws(() => loadTheme(nowhere), { message: `${nowhere} is not a directory` });
    const big = join(empty, 'big');
    mkdirSync(big);
    writeFileSync(join(big, 'theme.json'), JSON.stringify(BANK));
    writeFileSync(join(big, 'logo.svg'), Buffer.alloc(600 * 1024));
    assert.throws(() => loadTheme(big), {
      message: `${join(big, 'logo.svg')} is larger than 512 KiB`,
    });
  });

  test('portcullis serve exits non-zero with one line', async () => {
    const dir = themeDir({ productName: 'X', colors: { text: 'red;}' } });
    const result = await runCli(['serve'], { NODE_ENV: 'test', THEME_DIR: dir, ...testSecrets() });
    assertOneLineError(
      result,
      `Invalid configuration: THEME_DIR ${join(dir, 'theme.json')}: colors.text must be a CSS colour: #1d4ed8, rgb(29 78 216), hsl(...) or a colour name`,
    );
  });
});
