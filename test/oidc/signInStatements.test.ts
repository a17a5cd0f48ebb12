// Holds a whole sign-in (authorization request, login, consent, code exchange) to a budget of
// PostgreSQL statements, so the folding of its saves cannot creep back (issue 14). Each request's
// statements are counted on the real pool (db.counter); a failure prints them step by step.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateSync } from 'otplib';
import pg from 'pg';
import { authorizationUrl, HttpBrowser, type Page, pkce } from '../support/browserless.ts';
import { testDatabaseKind } from '../support/db.ts';
import { BANK_API, PASSWORD, REDIRECT_URI } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * Statements a password sign-in with consent and the code exchange may take, and the same with
 * TOTP: what they take now (44 and 65 before issue 14's folding, 36 and 48 after it). Issue 16
 * added two per sign-in: the look-up of a grant the person gave in another session (consent not
 * asked twice) and the note of the signed-in device (the account page's sessions): 38 and 50.
 * Holding each request's artefact writes back to one statement before its response (src/oidc/
 * writeBehind.ts; the device note rides along) took them to 31 and 43; the audit events and other
 * stores' writes of a request riding in that statement too, to 28 and 40. Reading a login step's
 * Interaction, Session and Grants ahead in one statement (src/oidc/readAhead.ts) took them to 24
 * and 36. Starting an attempt in one statement (password: address point, account lookup, lockout
 * claim; code: address point, lockout claim, the authenticator's read) took them to 22 and 32. A
 * step between the factors reading its progress and the person's factors in one statement, to 22
 * and 30. Other stores' reads riding in the artefacts' find (src/db/aheadReads.ts: the person a
 * step, code or refresh token names, the login's progress, the person's Grants), to 15 and 20.
 * Issue 14 aims at 15 and 18; lower these as statements go, never raise them without a feature
 * that needs it.
 */
const PASSWORD_BUDGET = 15;
const TOTP_BUDGET = 20;
const TOTP_SEED = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

interface Step {
  step: string;
  statements: number;
  texts: string[];
}

/**
 * The statement texts of this process's pg connections while `record` is on: db.counter says
 * how many, these say which (printed when a budget is exceeded).
 */
function recordStatementTexts() {
  const texts: string[] = [];
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function recordedQuery(this: unknown, ...args: unknown[]) {
    const first = args[0];
    const text = typeof first === 'string' ? first : ((first as { text?: string })?.text ?? '');
    texts.push(text.replace(/\s+/g, ' ').slice(0, 160));
    return original.apply(this, args);
  };
  return { texts, restore: () => (proto.query = original) };
}

/** Lets work started by a response (group-committed audit rows) finish within its step. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

/** An HTTP browser that counts the statements of each request it makes. */
class CountingBrowser extends HttpBrowser {
  readonly steps: Step[] = [];
  constructor(
    private readonly server: TestServer,
    private readonly texts: string[],
  ) {
    super();
  }

  override async request(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<Page> {
    return this.counted(`${init.method ?? (init.form ? 'POST' : 'GET')} ${label(url)}`, () =>
      super.request(url, init),
    );
  }

  async counted<T>(step: string, work: () => Promise<T>): Promise<T> {
    await settle();
    const before = this.server.db.counter.statements;
    const firstText = this.texts.length;
    const result = await work();
    await settle();
    this.steps.push({
      step,
      statements: this.server.db.counter.statements - before,
      texts: this.texts.slice(firstText),
    });
    return result;
  }

  total(): number {
    return this.steps.reduce((sum, s) => sum + s.statements, 0);
  }

  breakdown(withTexts: boolean): string {
    return this.steps
      .map(
        (s) =>
          `${String(s.statements).padStart(3)}  ${s.step}` +
          (withTexts ? s.texts.map((t) => `\n       ${t}`).join('') : ''),
      )
      .join('\n');
  }
}

/** The path of a URL with its interaction uid shortened, for a readable breakdown. */
function label(url: string): string {
  const { pathname } = new URL(url);
  return pathname.replace(/\/(interaction|auth)\/[\w-]{10,}/, '/$1/:uid');
}

// Only pooled PostgreSQL connections count their statements (the embedded database has none).
const embedded = testDatabaseKind() === 'embedded';

describe('statements per sign-in', {
  skip: embedded && 'counted on PostgreSQL only (TEST_DATABASE_URL)',
}, () => {
  let server: TestServer;
  let client: { id: string; secret: string };
  let recording: ReturnType<typeof recordStatementTexts>;

  before(async () => {
    // Before the server starts: the pool's connections call the query function they find then.
    recording = recordStatementTexts();
    // Background work off: key refresh, sweeps, logout delivery and client-limit syncs would
    // otherwise land in a step now and then.
    server = await startTestServer({
      env: {
        KEYS_REFRESH_SECONDS: '3600',
        SWEEP_INTERVAL_SECONDS: '0',
        BACKCHANNEL_LOGOUT_POLL_SECONDS: '0',
        CACHE_SECONDS: '3600',
        CLIENT_RATE_LIMIT_SYNC_MS: '60000',
      },
    });
    const { catalogue, clients, accounts, roles, totp } = server.app.services;
    await catalogue.create({
      identifier: BANK_API,
      name: 'Bank API',
      tokenFormat: 'jwt',
      scopes: [
        { name: 'accounts:read', description: 'See your accounts', requiredLevel: 1 },
        { name: 'payments:write', description: 'Make payments', requiredLevel: 2 },
      ],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read', 'payments:write'] });
    await accounts.create({ email: 'alice@example.com', password: PASSWORD, roles: ['customer'] });
    await accounts.create({ email: 'carol@example.com', password: PASSWORD, roles: ['customer'] });
    const bob = await accounts.create({
      email: 'bob@example.com',
      password: PASSWORD,
      roles: ['customer'],
    });
    await totp.importConfirmed([{ userId: bob.id, secret: TOTP_SEED }]);
    const created = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [REDIRECT_URI],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read', 'payments:write'] },
    });
    client = { id: created.client.clientId, secret: created.secret! };
  });
  after(async () => {
    recording.restore();
    await server.close();
  });

  /** One whole sign-in: /auth, login (and TOTP), consent, the redirect, the code exchange. */
  async function signIn(email: string, scope: string): Promise<CountingBrowser> {
    const browser = new CountingBrowser(server, recording.texts);
    const { verifier, challenge } = pkce();
    let page = await browser.open(
      authorizationUrl({
        issuer: server.issuer,
        clientId: client.id,
        redirectUri: REDIRECT_URI,
        scope: `openid ${scope}`,
        resource: BANK_API,
        challenge,
        state: 'st',
      }),
      server.issuer,
    );
    page = await browser.submit(page, /\/login$/, { email, password: PASSWORD }, server.issuer);
    if (page.html.includes('/totp"')) {
      const code = generateSync({ secret: TOTP_SEED });
      page = await browser.submit(page, /\/totp$/, { code }, server.issuer);
    }
    assert.match(page.html, /\/consent"/, 'the consent page is shown');
    page = await browser.submit(page, /\/consent$/, { decision: 'approve' }, server.issuer);
    const redirect = new URL(page.location ?? 'about:blank');
    const code = redirect.searchParams.get('code');
    assert.ok(code, `redirected back with a code: ${page.location} ${page.html.slice(0, 300)}`);
    const response = await browser.counted('POST /token', () =>
      fetch(server.url('/token'), {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          code_verifier: verifier,
          redirect_uri: REDIRECT_URI,
          resource: BANK_API,
        }),
      }).then(async (res) => ({ status: res.status, body: await res.json() })),
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.ok((response.body as { access_token?: string }).access_token);
    return browser;
  }

  function holdsTo(browser: CountingBrowser, budget: number, what: string): void {
    console.log(`${what}: ${browser.total()} statements\n${browser.breakdown(false)}`);
    assert.ok(
      browser.total() <= budget,
      `${what} took ${browser.total()} statements, over its budget of ${budget}:\n${browser.breakdown(true)}`,
    );
  }

  test(`a password sign-in with consent and the code exchange takes at most ${PASSWORD_BUDGET} statements`, async () => {
    // A first sign-in warms what is cached per instance (clients, the catalogue, keys). Another
    // person's: a consent once given is not asked again, and the measured flow includes consent.
    await signIn('carol@example.com', 'accounts:read');
    holdsTo(
      await signIn('alice@example.com', 'accounts:read'),
      PASSWORD_BUDGET,
      'password sign-in',
    );
  });

  test(`with TOTP, at most ${TOTP_BUDGET} statements`, async () => {
    holdsTo(await signIn('bob@example.com', 'payments:write'), TOTP_BUDGET, 'TOTP sign-in');
  });
});
