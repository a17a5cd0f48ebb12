// The steps every browser test repeats: start an authorization with openid-client, sign in with
// a password, and redeem the code the client application receives.
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { BANK_API, PASSWORD } from '../../support/fixtures.ts';

export function loginFlows(rp: () => oidc.Configuration, redirectUri: () => string) {
  return {
    /** Opens an authorization URL for `scope` (plus openid) on the bank API; returns the PKCE verifier and state. */
    async startLogin(page: Page, scope: string, extra: Record<string, string> = {}) {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(rp(), {
        redirect_uri: redirectUri(),
        scope: `openid ${scope}`,
        resource: BANK_API,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        ...extra,
      });
      await page.goto(url.href);
      return { verifier, state, nonce };
    },

    async password(page: Page, email = 'alice@example.com', password = PASSWORD) {
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForLoadState('load');
    },

    /** Waits for the redirect to the client and redeems the code for the bank API. */
    async tokensFrom(page: Page, checks: { verifier: string; state: string; nonce?: string }) {
      await page.waitForURL(`${redirectUri()}?**`);
      return oidc.authorizationCodeGrant(
        rp(),
        new URL(page.url()),
        {
          pkceCodeVerifier: checks.verifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
        },
        { resource: BANK_API },
      );
    },
  };
}
