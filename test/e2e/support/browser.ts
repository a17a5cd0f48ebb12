// Headless Debian Chromium driven by playwright-core, with a screenshot of every page loaded,
// and a local "client application" that receives the authorization redirect.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ARGS,
  });
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);

/**
 * A fresh browser context (no cookies) whose every loaded page is screenshotted to
 * test-results/e2e/<test>/<n>-<path>.png. Call `done()` to wait for the screenshots.
 */
export async function openContext(
  browser: Browser,
  testName: string,
): Promise<{ context: BrowserContext; page: Page; done(): Promise<void> }> {
  const context = await browser.newContext({ viewport: { width: 420, height: 860 } });
  const page = await context.newPage();
  const dir = join('test-results', 'e2e', slug(testName));
  mkdirSync(dir, { recursive: true });
  let n = 0;
  const shots: Promise<unknown>[] = [];
  page.on('load', () => {
    const file = join(
      dir,
      `${String(++n).padStart(2, '0')}-${slug(new URL(page.url()).pathname) || 'root'}.png`,
    );
    shots.push(page.screenshot({ path: file, fullPage: true }).catch(() => undefined));
  });
  return {
    context,
    page,
    async done() {
      await Promise.all(shots);
      await context.close();
    },
  };
}

/** The client application's redirect target: answers every request with a small page. */
export async function startCallbackServer(): Promise<{
  url: string;
  hits: string[];
  close(): Promise<void>;
}> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>Client app</title><h1>Back in the client application</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Chromium's virtual authenticator (a platform passkey that verifies the user) in this page's
 * context; returns a reader of its credentials' signature counters.
 */
export async function addVirtualAuthenticator(context: BrowserContext, page: Page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return async () =>
    (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials.map(
      (c) => c.signCount,
    );
}
