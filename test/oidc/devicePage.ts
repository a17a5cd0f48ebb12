// The device page of the device authorization grant driven over HTTP, shared by the device flow
// tests and the discovery truth test: enter a user code, confirm it, sign in, approve.
import assert from 'node:assert/strict';
import { HttpBrowser, type Page } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';

/** Enters `userCode` on the device page of `issuer` in `browser` (a new one unless given). */
export async function enterUserCode(
  issuer: string,
  userCode: string,
  browser = new HttpBrowser(),
): Promise<Page> {
  const page = await browser.open(`${issuer}/device`);
  assert.equal(page.status, 200);
  return browser.submit(page, /\/device$/, { user_code: userCode }, issuer);
}

/** Enters the code, confirms it, signs in as `email` and approves: the success page. */
export async function approveUserCode(
  issuer: string,
  userCode: string,
  email: string,
  browser = new HttpBrowser(),
): Promise<Page> {
  const confirm = await enterUserCode(issuer, userCode, browser);
  assert.match(confirm.html, /Check that your device shows this code/, confirm.html);
  let page = await browser.submit(confirm, /\/device$/, {}, issuer);
  assert.match(page.html, /action="\/interaction\/[^"]+\/login"/, page.html.slice(0, 500));
  page = await browser.submit(page, /\/login$/, { email, password: PASSWORD }, issuer);
  if (page.html.includes('/consent"'))
    page = await browser.submit(page, /\/consent$/, { decision: 'approve' }, issuer);
  return page;
}
