// The development start-up banner follows the README's quick start from where the setup is: it
// asks to create a user only when there is none, the customer role and its grant only when
// nobody holds one, and always gives an authorization URL that opens the login page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_API, runDevQuickstart } from '../src/devQuickstart.ts';
import { HttpBrowser } from './support/browserless.ts';
import { PASSWORD } from './support/fixtures.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/** The numbered steps of a banner, as "n. first line". */
const stepsOf = (banner: string) =>
  banner
    .split('\n')
    .filter((l) => /^ {2}\d\. /.test(l))
    .map((l) => l.trim());

describe('development banner', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('on a fresh setup: create a user, a role, grant it, then sign in', async () => {
    const banner = (await runDevQuickstart(server.app))!;
    assert.deepEqual(stepsOf(banner), [
      '1. Create a user (the password is asked for, never passed as an argument):',
      '2. Create a role that lets its members see their accounts through the demo API:',
      '3. Give your user the role:',
      '4. Open this authorization URL for the demo client and sign in:',
    ]);
    assert.match(banner, /npx portcullis user create --email you@example\.com --name "Your Name"/);
    assert.match(banner, /npx portcullis role create --name customer --scope accounts:read/);
    assert.match(banner, /npx portcullis role grant --user you@example\.com --role customer/);
    assert.doesNotMatch(banner, /people have accounts|person has an account/);
    assert.match(banner, new RegExp(`Your account page: ${server.issuer}/account`));
  });

  test('once a user exists it is not asked for again; the role steps remain', async () => {
    await server.app.services.accounts.create({ email: 'you@example.com', password: PASSWORD });
    const banner = (await runDevQuickstart(server.app))!;
    assert.doesNotMatch(banner, /Create a user/);
    assert.match(banner, /^ {2}1 person has an account\.$/m);
    assert.deepEqual(stepsOf(banner), [
      '1. Create a role that lets its members see their accounts through the demo API:',
      '2. Give your user the role:',
      '3. Open this authorization URL for the demo client and sign in:',
    ]);
  });

  test('a role nobody holds: only the grant, naming that role', async () => {
    await server.app.services.roles.create({
      name: 'retail',
      scopes: { [DEMO_API]: ['accounts:read'] },
    });
    const banner = (await runDevQuickstart(server.app))!;
    assert.deepEqual(stepsOf(banner), [
      '1. Give your user the role:',
      '2. Open this authorization URL for the demo client and sign in:',
    ]);
    assert.match(banner, /npx portcullis role grant --user you@example\.com --role retail/);
  });

  test('all set up: just sign in, with a URL that opens the login page', async () => {
    await server.app.services.roles.grant('you@example.com', 'retail');
    const banner = (await runDevQuickstart(server.app))!;
    assert.match(banner, /^ {2}1 person has an account; 1 with the role retail\.$/m);
    assert.deepEqual(stepsOf(banner), [
      '1. Open this authorization URL for the demo client and sign in:',
    ]);
    assert.match(banner, /^ {2}Next:$/m);
    const url = /^\s+(http\S+\/auth\?\S+)$/m.exec(banner)?.[1];
    assert.ok(url, banner);
    const page = await new HttpBrowser().open(url, server.issuer);
    assert.equal(page.status, 200);
    assert.match(page.html, /<h1>Sign in<\/h1>/);
    assert.match(page.html, /to continue to <strong>Demo app<\/strong>/);
  });
});
