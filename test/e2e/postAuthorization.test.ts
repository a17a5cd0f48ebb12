// POST at the authorization endpoint in a real browser, from a relying party on another site
// (127.0.0.1 against Portcullis on localhost): the form post completes a sign-in and openid-client
// redeems the code; the SameSite=Lax session cookie is not carried by that cross-site POST, so a
// signed-in person's session cannot be ridden by it (prompt=none answers login_required) while a
// GET navigation still finds the session.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { launchBrowser, openContext } from './support/browser.ts';

const EMAIL = 'alice@example.com';
const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

describe('POST /auth from another site, in the browser', () => {
  let server: TestServer;
  let browser: Browser;
  let rpSite: Server;
  let rpUrl: string;
  let redirectUri: string;
  let rp: oidc.Configuration;
  let clientId: string;
  /** The form the relying party's /start page posts to the authorization endpoint. */
  let form: Record<string, string> = {};

  before(async () => {
    browser = await launchBrowser();
    rpSite = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      if (req.url?.startsWith('/start')) {
        const fields = Object.entries(form)
          .map(([k, v]) => `<input type="hidden" name="${attr(k)}" value="${attr(v)}">`)
          .join('');
        res.end(
          `<!doctype html><title>Relying party</title><form method="post" action="${attr(server.url('/auth'))}">${fields}<button>Sign in with Portcullis</button></form>`,
        );
        return;
      }
      res.end('<!doctype html><title>Client app</title><h1>Back in the client application</h1>');
    });
    await new Promise<void>((resolve) => rpSite.listen(0, '127.0.0.1', resolve));
    rpUrl = `http://127.0.0.1:${(rpSite.address() as { port: number }).port}`;
    redirectUri = `${rpUrl}/callback`;
    server = await startTestServer({ hostname: 'localhost' });
    await server.app.services.accounts.create({ email: EMAIL, password: PASSWORD });
    const { client, secret } = await server.app.services.clients.create({
      name: 'Certified RP',
      grantTypes: ['authorization_code'],
      redirectUris: [redirectUri],
      authMethod: 'client_secret_basic',
      apiAccess: {},
      firstParty: true,
    });
    clientId = client.clientId;
    rp = await oidc.discovery(
      new URL(server.issuer),
      clientId,
      { redirect_uris: [redirectUri] },
      oidc.ClientSecretBasic(secret!),
      { execute: [oidc.allowInsecureRequests] },
    );
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await new Promise<void>((resolve) => (rpSite ? rpSite.close(() => resolve()) : resolve()));
  });

  async function request(extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const params = {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    };
    return { verifier, state, nonce, params };
  }

  async function signIn(page: Page) {
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  /** Posts `params` from the relying party's page on its own site. */
  async function postFromRp(page: Page, params: Record<string, string>) {
    form = params;
    await page.goto(`${rpUrl}/start`);
    await page.getByRole('button', { name: 'Sign in with Portcullis' }).click();
    await page.waitForLoadState('load');
  }

  test('a cross-site form POST signs in; the session it leaves is not carried by the next POST', async (t) => {
    const { page, done } = await openContext(browser, t.name);
    try {
      const first = await request();
      await postFromRp(page, first.params);
      // A form post from another site: the login page, then back to the client with a code.
      await signIn(page);
      await page.waitForURL(`${redirectUri}?**`);
      const tokens = await oidc.authorizationCodeGrant(rp, new URL(page.url()), {
        pkceCodeVerifier: first.verifier,
        expectedState: first.state,
        expectedNonce: first.nonce,
      });
      assert.ok(tokens.claims()?.sub);

      // Signed in now; another cross-site POST with prompt=none does not carry the session.
      const silent = await request({ prompt: 'none' });
      await postFromRp(page, silent.params);
      await page.waitForURL(`${redirectUri}?**`);
      const refused = new URL(page.url());
      assert.equal(refused.searchParams.get('error'), 'login_required');
      assert.equal(refused.searchParams.get('code'), null);

      // A GET navigation finds the session: prompt=none answers with a code.
      const viaGet = await request({ prompt: 'none' });
      await page.goto(`${server.url('/auth')}?${new URLSearchParams(viaGet.params)}`);
      await page.waitForURL(`${redirectUri}?**`);
      const silentTokens = await oidc.authorizationCodeGrant(rp, new URL(page.url()), {
        pkceCodeVerifier: viaGet.verifier,
        expectedState: viaGet.state,
        expectedNonce: viaGet.nonce,
      });
      assert.equal(silentTokens.claims()?.sub, tokens.claims()?.sub);
    } finally {
      await done();
    }
  });
});
