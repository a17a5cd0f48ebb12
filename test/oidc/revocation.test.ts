// What outlives what: a new password ends every session, grant and token of the person; a
// deleted client (admin API, CLI or RFC 7592) leaves no grant, token or code that still works.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminApi } from '../admin/helpers.ts';
import { authorizationUrl, type HttpBrowser, pkce } from '../support/browserless.ts';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase, testDatabaseKind } from '../support/db.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer, testSecrets } from '../support/server.ts';
import {
  type Credentials,
  codeFor,
  eventually,
  INVALID_GRANT,
  introspect,
  LEDGER,
  LEDGER_REDIRECT,
  type Ledger,
  post,
  redeem,
  refresh,
  seedLedger,
  signIn,
  userinfo,
} from './ledger.ts';

const NEW_PASSWORD = 'a wholly different passphrase';

/** The exact reply to a client that no longer exists. */
const INVALID_CLIENT = {
  status: 401,
  body: { error: 'invalid_client', error_description: 'client authentication failed' },
};

describe('revocation when a password changes or a client is deleted', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let server: TestServer;
  let ledger: Ledger;
  let api: ReturnType<typeof adminApi>;

  before(async () => {
    db = await createTestDatabase();
    env = testSecrets();
    server = await startTestServer({ db, env });
    ledger = await seedLedger(server);
    api = adminApi(server);
  });
  after(async () => {
    await server.close();
    await db.drop();
  });

  const rowsWhere = async (column: 'account_id' | 'client_id', value: string) =>
    Number(
      (await server.db.knex('oidc_artifacts').where(column, value).count('* as n').first())?.n,
    );

  /** Where an authorization request ends with this browser's cookies, without signing in. */
  const authorize = (browser: HttpBrowser, clientId: string) =>
    browser.open(
      authorizationUrl({
        issuer: server.issuer,
        clientId,
        redirectUri: LEDGER_REDIRECT,
        scope: 'openid ledger:read',
        resource: LEDGER,
        challenge: pkce().challenge,
        state: 'st',
      }),
      server.issuer,
    );

  /** A first-party web client that also gets client credentials tokens. */
  async function webClient(name: string): Promise<Credentials> {
    const { client, secret } = await server.app.services.clients.create({
      name,
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      redirectUris: [LEDGER_REDIRECT],
      authMethod: 'client_secret_basic',
      apiAccess: { [LEDGER]: ['ledger:read'] },
      firstParty: true,
    });
    return { id: client.clientId, secret: secret! };
  }

  /** Everything a client can hold: a person's tokens, an unredeemed code, its own token. */
  async function issueEverything(app: Credentials) {
    const as = { ...ledger, app };
    const tokens = await signIn(server, as);
    const code = await codeFor(server, as);
    const own = await post(server, '/token', app, {
      grant_type: 'client_credentials',
      resource: LEDGER,
    });
    assert.equal(own.status, 200);
    const issued = { ...tokens, code, own: own.body.access_token as string };
    for (const at of [issued.access_token, issued.own])
      assert.equal((await introspect(server, ledger, at)).active, true);
    return issued;
  }

  /** Nothing issued to the deleted client works, and nothing of it is left stored. */
  async function assertNothingLeft(
    app: Credentials,
    issued: Awaited<ReturnType<typeof issueEverything>>,
  ) {
    for (const at of [issued.access_token, issued.own]) {
      assert.deepEqual(
        await introspect(server, ledger, at),
        { active: false },
        "the deleted client's tokens are inactive",
      );
    }
    const as = { ...ledger, app };
    for (const reply of [
      await refresh(server, as, issued.refresh_token!),
      await redeem(server, as, issued.code),
    ]) {
      assert.deepEqual({ status: reply.status, body: reply.body }, INVALID_CLIENT);
    }
    assert.equal(await rowsWhere('client_id', app.id), 0, 'no artefact of the client is left');
    assert.ok(
      (await server.app.services.grants.list(ledger.person.id)).every((g) => g.clientId !== app.id),
      'no grant for the client is left',
    );
  }

  /** Someone else allowed the ledger: the ledger fixture as seen by them. */
  async function asNewPerson(email: string): Promise<Ledger> {
    const person = await server.app.services.accounts.create({
      email,
      password: PASSWORD,
      roles: ['ledger-reader'],
    });
    return { ...ledger, person: { id: person.id, email: person.email } };
  }

  test('a new password ends every session, grant and token of the person, and no one else’s', async () => {
    const pia = await asNewPerson('pia@example.com');
    const others = await signIn(server, ledger);
    const forLedger = await signIn(server, pia);
    const forUserinfo = await signIn(server, pia, { resource: false });
    assert.ok((await rowsWhere('account_id', pia.person.id)) > 0);

    const changed = await server.app.services.accounts.setPassword(pia.person.email, NEW_PASSWORD);

    const again = await refresh(server, pia, forLedger.refresh_token!);
    assert.deepEqual(
      { status: again.status, body: again.body },
      { status: 400, body: INVALID_GRANT },
      'the refresh token issued before the change is refused',
    );
    assert.deepEqual(await introspect(server, pia, forLedger.access_token), { active: false });
    const info = await userinfo(server, forUserinfo.access_token);
    assert.equal(info.status, 401);
    assert.equal(info.body.error, 'invalid_token');
    // The browser session is gone: the next authorization asks for the password.
    const page = await authorize(forLedger.browser, pia.app.id);
    assert.equal(page.location, undefined);
    assert.match(page.html, /autocomplete="current-password"/);
    assert.equal(await rowsWhere('account_id', pia.person.id), 0, 'nothing of theirs is left');
    assert.deepEqual(await server.app.services.grants.list(pia.person.id), []);
    // Someone else's sign-in is untouched.
    assert.equal((await introspect(server, ledger, others.access_token)).active, true);
    assert.equal((await refresh(server, ledger, others.refresh_token!)).status, 200);
    assert.ok(changed.sessionsEnded > 0, 'it says how much was ended');
  });

  test('deleting a client through the admin API revokes everything issued to it', async () => {
    const doomed = await webClient('Doomed through the admin API');
    const survivor = await signIn(server, { ...ledger, app: await webClient('Survivor') });
    const issued = await issueEverything(doomed);
    const token = await api.machineToken(['admin:clients']);
    const deleted = await api.call('DELETE', `/clients/${doomed.id}`, { token });
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    await assertNothingLeft(doomed, issued);
    assert.equal(
      (await introspect(server, ledger, survivor.access_token)).active,
      true,
      "another client's tokens keep working",
    );
  });

  test('a client deleting its own registration (RFC 7592) revokes everything issued to it', async () => {
    const token = await api.machineToken(['admin:clients']);
    const iat = await api.call('POST', '/initial-access-tokens', {
      token,
      body: { description: 'Partner', apiAccess: { [LEDGER]: ['ledger:read'] } },
    });
    assert.equal(iat.status, 201, JSON.stringify(iat.body));
    const registered = await fetch(server.url('/reg'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${iat.body.token}` },
      body: JSON.stringify({
        client_name: 'Partner',
        redirect_uris: [LEDGER_REDIRECT],
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
      }),
    });
    const client = (await registered.json()) as Record<string, string>;
    assert.equal(registered.status, 201, JSON.stringify(client));
    const app = { id: client.client_id!, secret: client.client_secret! };
    const issued = await issueEverything(app);
    const removed = await fetch(client.registration_client_uri!, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${client.registration_access_token}` },
    });
    assert.equal(removed.status, 204);
    await assertNothingLeft(app, issued);
  });

  test('portcullis user set-password and client delete revoke as the admin API does, and say so in the audit log', {
    skip:
      testDatabaseKind() === 'embedded' &&
      'the CLI reaches an in-memory database only on PostgreSQL',
  }, async () => {
    const cliEnv = { ...env, DATABASE_URL: db.url!, ISSUER: server.issuer };
    const carl = await asNewPerson('carl@example.com');
    const tokens = await signIn(server, carl);
    const set = await runCli(
      ['user', 'set-password', carl.person.email],
      cliEnv,
      `${NEW_PASSWORD}\n`,
    );
    assert.equal(set.code, 0, set.stderr);
    assert.equal(
      set.stdout,
      `password changed for ${carl.person.email}; every session, grant and token of theirs was ended\n`,
    );
    assert.deepEqual((await refresh(server, carl, tokens.refresh_token!)).body, INVALID_GRANT);
    const [event] = (
      await server.app.services.audit.query({
        action: 'user.password_set',
        targetId: carl.person.id,
      })
    ).events.slice(-1);
    assert.ok(event, 'the change is audited');
    assert.equal(event.details.via, 'cli');
    assert.ok(Number(event.details.revoked) > 0, 'with what it ended');

    const doomed = await webClient('Doomed through the CLI');
    const issued = await issueEverything(doomed);
    const del = await runCli(['client', 'delete', doomed.id], cliEnv);
    assert.equal(del.code, 0, del.stderr);
    // The server caches client metadata briefly: wait until it notices the client is gone.
    await eventually(
      () => server.app.services.clients.providerMetadata(doomed.id),
      (m) => m === undefined,
      10_000,
    );
    await assertNothingLeft(doomed, issued);
  });
});
