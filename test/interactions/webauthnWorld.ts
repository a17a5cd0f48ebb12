// The world the WebAuthn tests over HTTP share: a server on http://localhost (WebAuthn refuses IP
// addresses as RP ID) with APIs at levels 1-3, people with an authenticator app (but carol), a
// software authenticator each, and the steps of a login.
import { after, before } from 'node:test';
import * as oidc from 'openid-client';
import { generateSecret, generateSync } from 'otplib';
import { manualClock } from '../../src/clock.ts';
import { authorizationUrl, type HttpBrowser, type Page, pkce } from '../support/browserless.ts';
import { BANK_API, PASSWORD, REDIRECT_URI } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { SoftAuthenticator } from '../support/softAuthenticator.ts';

export const ACR = {
  1: 'urn:portcullis:ac:password',
  2: 'urn:portcullis:ac:mfa',
  3: 'urn:portcullis:ac:phishing-resistant',
};

/** The error or alert a page shows. */
export const shown = (page: Page) =>
  /role="alert"(?: id="error")?>([^<]*)</.exec(page.html)?.[1]?.replace(/&#39;/g, "'");

export function webauthnWorld(names: string[]) {
  const clock = manualClock(Date.UTC(2026, 11, 1, 14, 0, 0));
  const logs: string[] = [];
  const people: Record<string, { id: string; email: string; secret: string }> = {};
  const soft: Record<string, SoftAuthenticator> = {};
  let rp: oidc.Configuration;

  const w = {
    clock,
    logs,
    people,
    soft,
    server: undefined as unknown as TestServer,
    clientId: '',
    totpCode: (name: string) =>
      generateSync({ secret: people[name]!.secret, epoch: Math.floor(clock.now() / 1000) }),
    async authorize(browser: HttpBrowser, scope: string) {
      const { verifier, challenge } = pkce();
      const page = await browser.open(
        authorizationUrl({
          issuer: w.server.issuer,
          clientId: w.clientId,
          redirectUri: REDIRECT_URI,
          scope: `openid ${scope}`,
          resource: BANK_API,
          challenge,
          state: 'st',
        }),
        w.server.issuer,
      );
      return { page, verifier };
    },
    password: (browser: HttpBrowser, page: Page, name: string) =>
      browser.submit(page, /\/login$/, { email: people[name]!.email, password: PASSWORD }),
    totpStep: (browser: HttpBrowser, page: Page, name: string) =>
      browser.submit(page, /\/totp$/, { code: w.totpCode(name) }),
    redeem: (page: Page, verifier: string) =>
      oidc.authorizationCodeGrant(
        rp,
        new URL(page.location!),
        { pkceCodeVerifier: verifier, expectedState: 'st' },
        { resource: BANK_API },
      ),
    /** Registration options Portcullis never issued (a made-up challenge). */
    forgedOptions: (name: string) => ({
      rp: { id: 'localhost', name: 'Portcullis' },
      user: {
        id: Buffer.from(people[name]!.id).toString('base64url'),
        name: people[name]!.email,
        displayName: '',
      },
      challenge: Buffer.from('made up').toString('base64url'),
      pubKeyCredParams: [{ type: 'public-key' as const, alg: -7 }],
    }),
    credentialsOf: (name: string) =>
      w.server.db.knex('webauthn_credentials').where({ user_id: people[name]!.id }).select('*'),
    async events(action: string, name: string) {
      const { events } = await w.server.app.services.audit.query({
        action,
        targetType: 'user',
        targetId: people[name]!.id,
        limit: 500,
      });
      return events;
    },
  };

  before(async () => {
    w.server = await startTestServer({ clock, hostname: 'localhost', logs });
    const { catalogue, clients, accounts, roles, totp } = w.server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      scopes: [
        { name: 'accounts:read', description: 'See your accounts', requiredLevel: 1 },
        { name: 'payments:write', description: 'Make payments', requiredLevel: 2 },
        { name: 'mandates:write', description: 'Set up mandates', requiredLevel: 3 },
      ],
    });
    await roles.create({
      name: 'customer',
      scopes: ['accounts:read', 'payments:write', 'mandates:write'],
    });
    // Everyone but carol has an authenticator app; carol has no second factor.
    for (const name of names) {
      const email = `${name}@example.com`;
      const user = await accounts.create({ email, password: PASSWORD, roles: ['customer'] });
      const secret = generateSecret();
      if (name !== 'carol') await totp.importConfirmed([{ userId: user.id, secret }]);
      people[name] = { id: user.id, email, secret };
      soft[name] = new SoftAuthenticator({ origin: w.server.issuer });
    }
    const created = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECT_URI],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read', 'payments:write', 'mandates:write'] },
      firstParty: true,
    });
    w.clientId = created.client.clientId;
    rp = await oidc.discovery(
      new URL(w.server.issuer),
      w.clientId,
      { redirect_uris: [REDIRECT_URI] },
      oidc.ClientSecretBasic(created.secret!),
      { execute: [oidc.allowInsecureRequests] },
    );
  });
  after(() => w.server.close());
  return w;
}
