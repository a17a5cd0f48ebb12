// The person's authentication device in CIBA tests: their account page signed in with the
// password, where pending approvals wait (shared by the CIBA tests and the discovery truth test),
// and the customer those tests seed.
import { HttpBrowser, type Page } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import type { TestServer } from '../support/server.ts';

/** The approvals page of `email`, signed in with the password (level 1: approving asks for more). */
export async function approvalsPage(
  issuer: string,
  email: string,
  browser = new HttpBrowser(),
): Promise<Page> {
  const page = await browser.open(`${issuer}/account`);
  await browser.submit(page, /\/login$/, { email, password: PASSWORD });
  return browser.open(`${issuer}/account/approvals`);
}

/** The bank API the CIBA tests ask for. */
export const BANK = 'https://bank.api.example';

/**
 * A bank API with `accounts:read`, a customer role giving it, and one customer with a password and
 * an authenticator app of `totpSecret` (approving at level 2 asks for its code).
 */
export async function seedCustomer(server: TestServer, email: string, totpSecret: string) {
  const { catalogue, accounts, roles, totp } = server.app.services;
  await catalogue.create({
    identifier: BANK,
    name: 'Bank API',
    tokenFormat: 'jwt',
    accessTokenTtl: 300,
    scopes: [{ name: 'accounts:read', description: 'See your accounts' }],
  });
  await roles.create({ name: 'customer', scopes: ['accounts:read'] });
  const person = await accounts.create({ email, password: PASSWORD, roles: ['customer'] });
  await totp.importConfirmed([{ userId: person.id, secret: totpSecret }]);
  return person;
}
