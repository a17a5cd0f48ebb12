// Who may introspect which token (RFC 7662 section 4), over real HTTP with openid-client as the
// caller: an API's declared resource servers see that API's tokens, every client its own tokens,
// refresh tokens only the client they were issued to; anything else is exactly { active: false }.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { HttpBrowser, loginForCode } from '../support/browserless.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ACCOUNTS = 'https://accounts.api.example';
const CARDS = 'https://cards.api.example';
const STATEMENTS = 'https://statements.api.example';
const WEB_REDIRECT = 'https://app.example/callback';
const MOBILE_REDIRECT = 'http://127.0.0.1:7000/callback';

type Secretive = { id: string; secret: string };

describe('introspection rights', () => {
  let server: TestServer;
  let aliceId: string;
  let accountsId: string;
  /** Budget Planner: a confidential web app of ACCOUNTS with refresh tokens. */
  let web: Secretive;
  /** A public (native) app of ACCOUNTS. */
  let mobile: string;
  /** The ACCOUNTS API's own backend: its declared resource server. */
  let accountsRs: Secretive;
  /** The CARDS API's backend: client credentials for CARDS, its declared resource server. */
  let cardsRs: Secretive;
  /** A batch job with client credentials for ACCOUNTS (not a resource server). */
  let batch: Secretive;

  let alice: { access: string; refresh: string; userinfo: string };
  let mobileAccess: string;
  let batchToken: string;
  let batchJwt: string;

  const rp = (clientId: string, auth: oidc.ClientAuth, redirect?: string) =>
    oidc.discovery(
      new URL(server.issuer),
      clientId,
      redirect ? { redirect_uris: [redirect] } : {},
      auth,
      { execute: [oidc.allowInsecureRequests] },
    );
  const as = (c: Secretive, redirect?: string) =>
    rp(c.id, oidc.ClientSecretBasic(c.secret), redirect);
  const introspect = async (caller: oidc.Configuration, token: string) =>
    oidc.tokenIntrospection(caller, token);

  async function signIn(config: oidc.Configuration, clientId: string, redirect: string) {
    const browser = new HttpBrowser();
    const { redirect: back, verifier } = await loginForCode(browser, {
      issuer: server.issuer,
      clientId,
      redirectUri: redirect,
      scope: 'openid accounts:read',
      resource: ACCOUNTS,
      email: 'alice@example.com',
      password: PASSWORD,
    });
    assert.ok(back, 'signed in');
    return (resource: string | undefined) =>
      oidc.authorizationCodeGrant(
        config,
        back,
        { pkceCodeVerifier: verifier, expectedState: back.searchParams.get('state')! },
        resource ? { resource } : {},
      );
  }

  before(async () => {
    server = await startTestServer();
    const { catalogue, clients, accounts, roles } = server.app.services;
    const opaque = (identifier: string, scope: string) =>
      catalogue.create({
        identifier,
        tokenFormat: 'opaque',
        scopes: [{ name: scope, description: `Read ${scope}` }],
      });
    accountsId = (await opaque(ACCOUNTS, 'accounts:read')).id;
    const cardsId = (await opaque(CARDS, 'cards:read')).id;
    await catalogue.create({
      identifier: STATEMENTS,
      tokenFormat: 'jwt',
      scopes: [{ name: 'statements:read', description: 'Read statements' }],
    });
    await roles.create({ name: 'customer', scopes: ['accounts:read'] });
    aliceId = (
      await accounts.create({ email: 'alice@example.com', password: PASSWORD, roles: ['customer'] })
    ).id;

    const confidential = async (
      name: string,
      apiAccess: Record<string, string[]>,
    ): Promise<Secretive> => {
      const { client, secret } = await clients.create({
        name,
        grantTypes: ['client_credentials'],
        authMethod: 'client_secret_basic',
        apiAccess,
      });
      return { id: client.clientId, secret: secret! };
    };
    accountsRs = await confidential('Accounts API', { [ACCOUNTS]: ['accounts:read'] });
    cardsRs = await confidential('Cards API', { [CARDS]: ['cards:read'] });
    batch = await confidential('Nightly batch', {
      [ACCOUNTS]: ['accounts:read'],
      [STATEMENTS]: ['statements:read'],
    });
    const webClient = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [WEB_REDIRECT],
      authMethod: 'client_secret_basic',
      apiAccess: { [ACCOUNTS]: ['accounts:read'] },
      firstParty: true,
    });
    web = { id: webClient.client.clientId, secret: webClient.secret! };
    mobile = (
      await clients.create({
        name: 'Mobile app',
        grantTypes: ['authorization_code'],
        redirectUris: [MOBILE_REDIRECT],
        authMethod: 'none',
        apiAccess: { [ACCOUNTS]: ['accounts:read'] },
        firstParty: true,
      })
    ).client.clientId;
    await catalogue.update(accountsId, { resourceServers: [accountsRs.id] });
    await catalogue.update(cardsId, { resourceServers: [cardsRs.id] });

    const webRp = await as(web, WEB_REDIRECT);
    const apiTokens = await (await signIn(webRp, web.id, WEB_REDIRECT))(ACCOUNTS);
    const userinfoTokens = await (await signIn(webRp, web.id, WEB_REDIRECT))(undefined);
    assert.ok(apiTokens.refresh_token);
    alice = {
      access: apiTokens.access_token,
      refresh: apiTokens.refresh_token,
      userinfo: userinfoTokens.access_token,
    };
    const mobileRp = await rp(mobile, oidc.None(), MOBILE_REDIRECT);
    mobileAccess = (await (await signIn(mobileRp, mobile, MOBILE_REDIRECT))(ACCOUNTS)).access_token;
    const batchRp = await as(batch);
    batchToken = (await oidc.clientCredentialsGrant(batchRp, { resource: ACCOUNTS })).access_token;
    batchJwt = (await oidc.clientCredentialsGrant(batchRp, { resource: STATEMENTS })).access_token;
    for (const t of [alice.access, alice.refresh, alice.userinfo, mobileAccess, batchToken]) {
      assert.ok(!t.includes('.'), 'opaque tokens');
    }
  });
  after(() => server.close());

  test("the attack: another API's client learns nothing of this API's tokens, refresh tokens or other clients' tokens", async () => {
    const cards = await as(cardsRs);
    const tokens = {
      "Alice's ACCOUNTS token": alice.access,
      "Budget Planner's refresh token": alice.refresh,
      "the batch job's client-credentials token": batchToken,
      "Alice's userinfo token": alice.userinfo,
      "the mobile app's ACCOUNTS token": mobileAccess,
    };
    const answers: Record<string, unknown> = {};
    for (const [what, token] of Object.entries(tokens))
      answers[what] = await introspect(cards, token);
    assert.deepEqual(
      answers,
      Object.fromEntries(Object.keys(tokens).map((what) => [what, { active: false }])),
      "the CARDS resource server introspecting ACCOUNTS tokens and other clients' tokens",
    );
    // A client of the API that is not one of its resource servers learns nothing either.
    assert.deepEqual(await introspect(await as(batch), alice.access), { active: false });
    // Nothing was spent or revoked by those answers: the owner still sees its token active.
    assert.equal((await introspect(await as(web, WEB_REDIRECT), alice.access)).active, true);
  });

  test("an API's declared resource server sees the API's tokens with sub and scope", async () => {
    const accountsApi = await as(accountsRs);
    const user = await introspect(accountsApi, alice.access);
    assert.equal(user.active, true);
    assert.equal(user.sub, aliceId);
    assert.equal(user.scope, 'accounts:read');
    assert.equal(user.aud, ACCOUNTS);
    assert.equal(user.client_id, web.id);
    const native = await introspect(accountsApi, mobileAccess);
    assert.equal(native.active, true);
    assert.equal(native.client_id, mobile);
    const machine = await introspect(accountsApi, batchToken);
    assert.equal(machine.active, true);
    assert.equal(machine.client_id, batch.id);
    assert.equal(machine.scope, 'accounts:read');
    assert.equal(machine.sub, undefined);
  });

  test('refresh tokens and tokens for no API are introspectable only by their own client', async () => {
    const accountsApi = await as(accountsRs);
    assert.deepEqual(await introspect(accountsApi, alice.refresh), { active: false });
    assert.deepEqual(await introspect(accountsApi, alice.userinfo), { active: false });
    const own = await as(web, WEB_REDIRECT);
    const refresh = await introspect(own, alice.refresh);
    assert.equal(refresh.active, true);
    assert.equal(refresh.client_id, web.id);
    assert.equal(refresh.sub, aliceId);
    assert.equal((await introspect(own, alice.userinfo)).active, true);
  });

  test('every client sees its own tokens, public clients included', async () => {
    const own = await introspect(await as(web, WEB_REDIRECT), alice.access);
    assert.equal(own.active, true);
    assert.equal(own.sub, aliceId);
    const machine = await introspect(await as(batch), batchToken);
    assert.equal(machine.active, true);
    const publicApp = await rp(mobile, oidc.None(), MOBILE_REDIRECT);
    const native = await introspect(publicApp, mobileAccess);
    assert.equal(native.active, true);
    assert.equal(native.sub, aliceId);
    // ...and only its own.
    assert.deepEqual(await introspect(publicApp, alice.access), { active: false });
  });

  test("a JWT access token tells another API's resource server nothing: { active: false }", async () => {
    const res = await fetch(server.url('/token/introspection'), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${cardsRs.id}:${cardsRs.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: batchJwt }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { active: false });
  });

  test("a resource server's introspection reads the API from the catalogue cache, not the database", async () => {
    const { knex } = server.app.db;
    const accountsApi = await as(accountsRs);
    const catalogueReads = async () => {
      const statements: string[] = [];
      const listen = (q: { sql: string }) => statements.push(q.sql);
      knex.on('query', listen);
      try {
        assert.equal((await introspect(accountsApi, alice.access)).active, true);
      } finally {
        knex.off('query', listen);
      }
      return statements.filter((sql) => /"?\bapi(s|_scopes|_resource_servers)\b"?/.test(sql));
    };
    // A change drops this instance's entry: the next introspection loads it once...
    await server.app.services.catalogue.update(accountsId, { resourceServers: [accountsRs.id] });
    assert.ok((await catalogueReads()).length > 0, 'the first introspection loads the API');
    // ...and the ones after it find it cached.
    assert.deepEqual(await catalogueReads(), []);
  });

  test('the catalogue itself refuses a resource server that is not a registered client; nothing is written', async () => {
    const { catalogue } = server.app.services;
    const ghost = 'no-such-client';
    await assert.rejects(
      catalogue.create({
        identifier: 'https://ghost.api.example',
        scopes: [{ name: 'ghost:read', description: 'Read ghosts' }],
        resourceServers: [cardsRs.id, ghost],
      }),
      { name: 'DomainError', message: `no client ${ghost}`, field: 'resourceServers/1' },
    );
    assert.equal(await catalogue.findByIdentifier('https://ghost.api.example'), undefined);
    const before = await catalogue.get(accountsId);
    await assert.rejects(catalogue.changeResourceServers(accountsId, { add: [ghost] }), {
      name: 'DomainError',
      message: `no client ${ghost}`,
      field: 'resourceServers/0',
    });
    await assert.rejects(catalogue.update(accountsId, { resourceServers: [ghost] }), {
      name: 'DomainError',
      message: `no client ${ghost}`,
    });
    assert.deepEqual(await catalogue.get(accountsId), before);
  });

  test('a resource server taken off the API loses access at once; put back, it sees again', async () => {
    const { catalogue } = server.app.services;
    const accountsApi = await as(accountsRs);
    await catalogue.update(accountsId, { resourceServers: [] });
    try {
      assert.deepEqual(await introspect(accountsApi, alice.access), { active: false });
      // Its own client-credentials token it still sees.
      const ownToken = (await oidc.clientCredentialsGrant(accountsApi, { resource: ACCOUNTS }))
        .access_token;
      assert.equal((await introspect(accountsApi, ownToken)).active, true);
    } finally {
      await catalogue.update(accountsId, { resourceServers: [accountsRs.id] });
    }
    assert.equal((await introspect(accountsApi, alice.access)).active, true);
  });
});
