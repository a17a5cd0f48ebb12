// The world the page tour of test/e2e/pages.test.ts walks through: the payments and accounts APIs
// of issue 13 with two third-party apps returning to a local page, a call centre (CIBA), a TV
// (device flow), one person per language, and a browser context per language with a passkey.
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CIBA_GRANT_TYPE } from '../../../src/oidc/cibaClients.ts';
import { ACCOUNTS, PAYMENTS, seedRar } from '../../oidc/richAuthorizationWorld.ts';
import { PASSWORD } from '../../support/fixtures.ts';
import type { TestServer } from '../../support/server.ts';
import { addVirtualAuthenticator } from './browser.ts';

export interface PagesWorld {
  /** Where the apps' authorization responses land (the local callback server). */
  redirectUri: string;
  /** The third-party app allowed payments and account access. */
  tpp: oidc.Configuration;
  /** An app allowed account access only. */
  reader: oidc.Configuration;
  /** The call centre's backchannel client (CIBA, poll mode). */
  counter: oidc.Configuration;
  /** The TV's public device-flow client. */
  tv: oidc.Configuration;
  /** A person without factors for each language tour: `<lang>@example.com`. */
  emailOf(lang: string): string;
}

export async function seedPages(
  server: TestServer,
  langs: readonly string[],
  redirectUri: string,
): Promise<PagesWorld> {
  await seedRar(server);
  const { clients, accounts } = server.app.services;
  for (const lang of langs)
    await accounts.create({
      email: `${lang}@example.com`,
      password: PASSWORD,
      roles: ['customer'],
    });
  const discover = async (
    created: Awaited<ReturnType<typeof clients.create>>,
    auth: oidc.ClientAuth,
    metadata: Partial<oidc.ClientMetadata> = {},
  ) =>
    oidc.discovery(new URL(server.issuer), created.client.clientId, metadata, auth, {
      execute: [oidc.allowInsecureRequests],
    });
  const app = async (name: string, apiAccess: Record<string, string[]>) => {
    const created = await clients.create({
      name,
      grantTypes: ['authorization_code'],
      redirectUris: [redirectUri],
      authMethod: 'client_secret_basic',
      apiAccess,
    });
    return discover(created, oidc.ClientSecretBasic(created.secret!), {
      redirect_uris: [redirectUri],
    });
  };
  const counter = await clients.create({
    name: 'Branch Counter',
    grantTypes: [CIBA_GRANT_TYPE],
    authMethod: 'client_secret_basic',
    apiAccess: { [ACCOUNTS]: ['accounts:read'] },
    backchannel: { mode: 'poll' },
  });
  const tv = await clients.create({
    name: 'Bank TV',
    grantTypes: ['device_code'],
    authMethod: 'none',
    apiAccess: { [ACCOUNTS]: ['accounts:read'] },
  });
  return {
    redirectUri,
    tpp: await app('Third-party provider', {
      [PAYMENTS]: ['payments:write'],
      [ACCOUNTS]: ['accounts:read'],
    }),
    reader: await app('Account reader', { [ACCOUNTS]: ['accounts:read'] }),
    counter: await discover(counter, oidc.ClientSecretBasic(counter.secret!)),
    tv: await discover(tv, oidc.None()),
    emailOf: (lang) => `${lang}@example.com`,
  };
}

/** A browser context for one language (Accept-Language for the pages without an interaction), with a virtual passkey. */
export async function languageContext(
  browser: Browser,
  lang: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    extraHTTPHeaders: { 'Accept-Language': lang },
  });
  const page = await context.newPage();
  await addVirtualAuthenticator(context, page);
  return { context, page };
}

/** Pushes an authorization request of the app `rp` (PAR) and opens it in the page. */
export async function authorize(
  w: PagesWorld,
  page: Page,
  rp: oidc.Configuration,
  params: Record<string, string>,
): Promise<void> {
  const url = await oidc.buildAuthorizationUrlWithPAR(rp, {
    redirect_uri: w.redirectUri,
    code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    state: oidc.randomState(),
    ...params,
  });
  await page.goto(url.href);
}

/** Clicks `selector` and waits for the page it leads to. */
export async function submit(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.locator(selector).first().click()]);
}

/** Goes on from a sign-in step to the app: allows the consent page if one is shown. */
export async function backToApp(w: PagesWorld, page: Page): Promise<void> {
  const allow = 'button[name="decision"][value="approve"]';
  for (let step = 0; step < 3 && !page.url().startsWith(w.redirectUri); step++) {
    if ((await page.locator(allow).count()) === 0) break;
    await submit(page, allow);
  }
  if (!page.url().startsWith(w.redirectUri))
    throw new Error(`expected the app after the sign-in, got ${page.url()}: ${await h1(page)}`);
}

export const h1 = async (page: Page) =>
  String(await page.evaluate('document.querySelector("h1")?.textContent?.trim() ?? ""'));

/** Signs in on the login page by its field ids (the labels change with the language). */
export async function password(page: Page, email: string, secret = PASSWORD): Promise<void> {
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(secret);
  await submit(page, 'form[action$="/login"] button[type="submit"]');
}
