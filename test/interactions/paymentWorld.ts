// The world the payment consent tests over HTTP share: a server on http://localhost (WebAuthn
// refuses IP addresses as RP ID) whose Bank API declares both detail types, alice (an app and a
// security key) and tom (an app only), a third-party client, and the steps to its consent page.
import { after, before } from 'node:test';
import * as oidc from 'openid-client';
import { generateSecret, generateSync } from 'otplib';
import { manualClock } from '../../src/clock.ts';
import { authorizationUrl, type HttpBrowser, type Page, pkce } from '../support/browserless.ts';
import { BANK_API, PASSWORD, REDIRECT_URI } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { SoftAuthenticator } from '../support/softAuthenticator.ts';

export const PAYMENT = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'EUR', amount: '1250.00' },
  creditorName: 'ACME GmbH',
  creditorAccount: { iban: 'DE89370400440532013000' },
  debtorAccount: { iban: 'GB29NWBK60161331926819' },
  remittanceInformation: 'Invoice 2026-117',
};
export const ACCOUNTS = {
  type: 'account_information',
  accounts: 'all',
  access: ['balances', 'transactions'],
  expirationDateTime: '2027-03-01T00:00:00Z',
};

/** The error or alert a page shows. */
export const shown = (page: Page) =>
  /role="alert"(?: id="[a-z-]+")?>([^<]*)</.exec(page.html)?.[1]?.replace(/&#39;/g, "'");
export const uidOf = (page: Page) => /\/interaction\/([^/"]+)\/consent"/.exec(page.html)![1]!;
export const consentIdOf = (page: Page) => /name="consent" value="([^"]+)"/.exec(page.html)![1]!;
export const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));

export function paymentWorld() {
  const clock = manualClock(Date.UTC(2026, 11, 1, 14, 0, 0));
  const people: Record<string, { id: string; email: string; secret: string }> = {};
  const soft: Record<string, SoftAuthenticator> = {};
  let server: TestServer;
  let rp: oidc.Configuration;
  let clientId = '';

  before(async () => {
    server = await startTestServer({ clock, hostname: 'localhost' });
    const { catalogue, clients, accounts, roles, totp, webauthn } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      tokenFormat: 'jwt',
      scopes: [
        { name: 'accounts:read', description: 'See your accounts', requiredLevel: 1 },
        { name: 'payments:write', description: 'Make payments', requiredLevel: 2 },
        { name: 'payments:execute', description: 'Execute consented payments' },
      ],
      detailTypes: ['payment_initiation', 'account_information'],
      consentScope: 'payments:execute',
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read', 'payments:write'] });
    // alice has an authenticator app and a security key; tom an authenticator app only.
    for (const name of ['alice', 'tom']) {
      const email = `${name}@example.com`;
      const user = await accounts.create({ email, password: PASSWORD, roles: ['customer'] });
      const secret = generateSecret();
      await totp.importConfirmed([{ userId: user.id, secret }]);
      people[name] = { id: user.id, email, secret };
      soft[name] = new SoftAuthenticator({ origin: server.issuer });
    }
    const alice = { id: people.alice!.id, email: people.alice!.email, name: 'Alice' };
    const options = await webauthn.registrationOptions(alice, 'setup');
    await webauthn.register(alice.id, 'setup', soft.alice!.register(options), 'Alice key');
    const created = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECT_URI],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read', 'payments:write'] },
    });
    clientId = created.client.clientId;
    rp = await oidc.discovery(
      new URL(server.issuer),
      clientId,
      { redirect_uris: [REDIRECT_URI] },
      oidc.ClientSecretBasic(created.secret!),
      { execute: [oidc.allowInsecureRequests] },
    );
  });
  after(() => server?.close());

  /** Starts an authorization with `details` and signs `name` in with password and app code. */
  async function consentPage(
    browser: HttpBrowser,
    name: string,
    scope: string,
    details: unknown[],
    extra: Record<string, string> = {},
  ) {
    const { verifier, challenge } = pkce();
    let page = await browser.open(
      authorizationUrl({
        issuer: server.issuer,
        clientId,
        redirectUri: REDIRECT_URI,
        scope: `openid ${scope}`,
        resource: BANK_API,
        challenge,
        state: 'st',
        extra: { authorization_details: JSON.stringify(details), ...extra },
      }),
      server.issuer,
    );
    page = await browser.submit(page, /\/login$/, {
      email: people[name]!.email,
      password: PASSWORD,
    });
    if (page.html.includes('/totp"')) {
      const code = generateSync({
        secret: people[name]!.secret,
        epoch: Math.floor(clock.now() / 1000),
      });
      page = await browser.submit(page, /\/totp$/, { code });
    }
    return { page, verifier };
  }

  const redeem = (page: Page, verifier: string) =>
    oidc.authorizationCodeGrant(
      rp,
      new URL(page.location!),
      { pkceCodeVerifier: verifier, expectedState: 'st' },
      { resource: BANK_API },
    );
  const codesIssued = async () =>
    Number(
      (
        await server.db
          .knex('oidc_artifacts')
          .where({ model: 'AuthorizationCode' })
          .count<{ n: string }[]>('* as n')
      )[0]!.n,
    );
  const events = async (action: string) =>
    (await server.app.services.audit.query({ action, limit: 100 })).events;

  return {
    clock,
    people,
    soft,
    server: () => server,
    clientId: () => clientId,
    consentPage,
    redeem,
    codesIssued,
    events,
  };
}
