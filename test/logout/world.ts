// A Portcullis with a bank, a relying party that takes back-channel logout, and the steps of the
// logout tests: sign in with openid-client, sign out, verify logout tokens against the JWKS.
import assert from 'node:assert/strict';
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { manualClock } from '../../src/clock.ts';
import { HttpBrowser, loginForCode } from '../support/browserless.ts';
import { BANK_API, type Bank, PASSWORD, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startRelyingParty, type TestRelyingParty } from './relyingParty.ts';

export const TIMEOUT_MS = 4000;
export const RETRY_SECONDS = 10;
export const MAX_ATTEMPTS = 3;
export const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export interface LogoutWorld {
  server: TestServer;
  bank: Bank;
  rp: TestRelyingParty;
  clock: ReturnType<typeof manualClock>;
  signIn(browser?: HttpBrowser): Promise<{
    browser: HttpBrowser;
    config: oidc.Configuration;
    idToken: string;
    claims: JWTPayload;
  }>;
  /** RP-initiated logout with the confirmation ("Sign out"); returns the last page and its time. */
  signOut(
    s: { browser: HttpBrowser; config: oidc.Configuration; idToken: string },
    postLogout?: boolean,
  ): Promise<{ location: string | undefined; html: string; status: number; ms: number }>;
  /** Verifies a logout token as a relying party must (Back-Channel Logout 1.0 §2.6). */
  verify(token: string): Promise<{ payload: JWTPayload; header: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function logoutWorld(env: Record<string, string> = {}): Promise<LogoutWorld> {
  const clock = manualClock();
  const rp = await startRelyingParty();
  const server = await startTestServer({
    clock,
    env: {
      ...env,
      BACKCHANNEL_LOGOUT_POLL_SECONDS: '0',
      BACKCHANNEL_LOGOUT_TIMEOUT_MS: String(TIMEOUT_MS),
      BACKCHANNEL_LOGOUT_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      BACKCHANNEL_LOGOUT_RETRY_SECONDS: String(RETRY_SECONDS),
    },
  });
  const bank = await seedBank(server);
  await server.app.services.clients.setLogoutUris(bank.client.id, {
    backchannelLogoutUri: rp.uri,
  });
  const jwks = createRemoteJWKSet(new URL(server.url('/jwks')));

  return {
    server,
    bank,
    rp,
    clock,
    async signIn(browser = new HttpBrowser()) {
      const { redirect, verifier } = await loginForCode(browser, {
        issuer: server.issuer,
        clientId: bank.client.id,
        redirectUri: REDIRECT_URI,
        scope: 'openid accounts:read',
        resource: BANK_API,
        email: 'alice@example.com',
        password: PASSWORD,
        extra: {},
      });
      assert.ok(redirect, 'redirected back to the client');
      const config = await bank.rp();
      const tokens = await oidc.authorizationCodeGrant(
        config,
        redirect,
        { pkceCodeVerifier: verifier, expectedState: redirect.searchParams.get('state')! },
        { resource: BANK_API },
      );
      return { browser, config, idToken: tokens.id_token!, claims: tokens.claims()! };
    },
    async signOut({ browser, config, idToken }, postLogout = true) {
      const end = oidc.buildEndSessionUrl(config, {
        id_token_hint: idToken,
        ...(postLogout ? { post_logout_redirect_uri: 'https://app.example/signed-out' } : {}),
      });
      const confirm = await browser.open(end.href, server.issuer);
      const started = performance.now();
      const done = await browser.submit(
        confirm,
        /\/session\/end\/confirm$/,
        { logout: 'yes' },
        server.issuer,
      );
      return { ...done, ms: performance.now() - started };
    },
    async verify(token) {
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: server.issuer,
        audience: bank.client.id,
        typ: 'logout+jwt',
      });
      return { payload, header: protectedHeader as Record<string, unknown> };
    },
    async close() {
      await server.close();
      await rp.close();
    },
  };
}
