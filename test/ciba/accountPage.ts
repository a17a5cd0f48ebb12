// The person's authentication device in CIBA tests: their account page signed in with the
// password, where pending approvals wait (shared by the CIBA tests and the discovery truth test).
import { HttpBrowser, type Page } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';

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
