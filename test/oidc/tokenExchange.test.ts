// Token exchange (RFC 8693) over real HTTP, openid-client's genericGrantRequest as the resource
// server: a person's ACCOUNTS token exchanged by the ACCOUNTS API's backend for a narrower
// STATEMENTS token carrying act, introspected by STATEMENTS; every refusal with its exact error
// and nothing written; revoked tokens refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { HttpBrowser, loginForCode } from '../support/browserless.ts';
import {
  assertError,
  assertionFields,
  clientAssertion,
  dpopProof,
  type SigningKey,
  send,
  signingKey,
  thumbprint,
} from '../support/fapi.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ACCOUNTS = 'https://accounts.api.example';
const STATEMENTS = 'https://statements.api.example';
const CARDS = 'https://cards.api.example';
const REDIRECT = 'https://app.example/callback';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

type Secretive = { id: string; secret: string };

describe('token exchange', () => {
  let server: TestServer;
  let aliceId: string;
  let web: Secretive;
  /** ACCOUNTS' resource server, allowed to exchange for STATEMENTS. */
  let accountsRs: Secretive;
  /** STATEMENTS' resource server, allowed to exchange for ACCOUNTS. */
  let statementsRs: Secretive;
  /** Allowed the grant and STATEMENTS, but serves no API. */
  let outsider: Secretive;
  /** A client credentials client of CARDS (no token exchange). */
  let cardsBatch: Secretive;
  /** A FAPI 2.0 resource server of ACCOUNTS (private_key_jwt, DPoP-bound tokens). */
  let fapiRs: { id: string; key: SigningKey };

  const rp = (c: Secretive, redirect?: string) =>
    oidc.discovery(
      new URL(server.issuer),
      c.id,
      redirect ? { redirect_uris: [redirect] } : {},
      oidc.ClientSecretBasic(c.secret),
      { execute: [oidc.allowInsecureRequests] },
    );

  /** Alice signs in to the web app; a fresh code redeemed for `resource`. */
  async function aliceToken(resource: string): Promise<string> {
    const browser = new HttpBrowser();
    const { redirect, verifier } = await loginForCode(browser, {
      issuer: server.issuer,
      clientId: web.id,
      redirectUri: REDIRECT,
      scope: 'openid accounts:read statements:read statements:export',
      email: 'alice@example.com',
      password: PASSWORD,
    });
    assert.ok(redirect, 'signed in');
    const tokens = await oidc.authorizationCodeGrant(
      await rp(web, REDIRECT),
      redirect,
      { pkceCodeVerifier: verifier, expectedState: redirect.searchParams.get('state')! },
      { resource },
    );
    return tokens.access_token;
  }

  const exchange = async (
    c: Secretive,
    params: Record<string, string>,
    options?: oidc.DPoPOptions,
  ) => oidc.genericGrantRequest(await rp(c), EXCHANGE, params, options);

  /** The OAuth error of a refused exchange. */
  async function refusal(c: Secretive, params: Record<string, string>) {
    try {
      await exchange(c, params);
    } catch (err) {
      if (err instanceof oidc.ResponseBodyError)
        return { error: err.error, description: err.error_description };
      throw err;
    }
    assert.fail('the exchange was accepted');
  }

  /** What an exchange could have written: tokens, grants, audit events of issuance. */
  async function written() {
    const { knex } = server.app.db;
    const artifacts = await knex('oidc_artifacts')
      .whereIn('model', ['AccessToken', 'Grant'])
      .count<{ count: string }[]>('* as count');
    const audit = await knex('audit_events')
      .whereIn('action', ['token.exchanged', 'token.issued'])
      .count<{ count: string }[]>('* as count');
    return { artifacts: Number(artifacts[0]!.count), audit: Number(audit[0]!.count) };
  }

  before(async () => {
    server = await startTestServer();
    const { catalogue, clients, accounts, roles } = server.app.services;
    const accountsApi = await catalogue.create({
      identifier: ACCOUNTS,
      tokenFormat: 'jwt',
      scopes: [{ name: 'accounts:read', description: 'Read accounts' }],
    });
    const statementsApi = await catalogue.create({
      identifier: STATEMENTS,
      tokenFormat: 'opaque',
      scopes: [
        { name: 'statements:read', description: 'Read statements' },
        { name: 'statements:export', description: 'Export statements' },
        { name: 'statements:admin', description: 'Manage statements', requiredLevel: 2 },
      ],
    });
    await catalogue.create({
      identifier: CARDS,
      tokenFormat: 'opaque',
      scopes: [{ name: 'cards:read', description: 'Read cards' }],
    });
    // Alice's roles grant statements:read and :admin, not :export.
    await roles.create({
      name: 'customer',
      scopes: [
        `${ACCOUNTS} accounts:read`,
        `${STATEMENTS} statements:read`,
        `${STATEMENTS} statements:admin`,
      ],
    });
    aliceId = (
      await accounts.create({ email: 'alice@example.com', password: PASSWORD, roles: ['customer'] })
    ).id;
    const create = async (
      name: string,
      grantTypes: string[],
      apiAccess: Record<string, string[]>,
    ): Promise<Secretive> => {
      const { client, secret } = await clients.create({
        name,
        grantTypes: grantTypes as never,
        authMethod: 'client_secret_basic',
        apiAccess,
      });
      return { id: client.clientId, secret: secret! };
    };
    const all = ['statements:read', 'statements:export', 'statements:admin'];
    accountsRs = await create('Accounts API', [EXCHANGE], { [STATEMENTS]: all });
    statementsRs = await create('Statements API', [EXCHANGE], { [ACCOUNTS]: ['accounts:read'] });
    outsider = await create('Outsider', [EXCHANGE], { [STATEMENTS]: all });
    cardsBatch = await create('Cards batch', ['client_credentials'], { [CARDS]: ['cards:read'] });
    const webClient = await clients.create({
      name: 'Budget Planner',
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECT],
      authMethod: 'client_secret_basic',
      apiAccess: { [ACCOUNTS]: ['accounts:read'], [STATEMENTS]: all },
      firstParty: true,
    });
    web = { id: webClient.client.clientId, secret: webClient.secret! };
    const fapiKey = signingKey('ES256');
    fapiRs = {
      key: fapiKey,
      id: (
        await clients.create({
          name: 'Accounts API (FAPI 2.0)',
          profile: 'fapi2',
          grantTypes: [EXCHANGE as never],
          authMethod: 'private_key_jwt',
          jwks: { keys: [fapiKey.publicJwk] },
          apiAccess: { [STATEMENTS]: all },
        })
      ).client.clientId,
    };
    await catalogue.update(accountsApi.id, { resourceServers: [accountsRs.id, fapiRs.id] });
    await catalogue.update(statementsApi.id, { resourceServers: [statementsRs.id] });
  });
  after(() => server.close());

  test("ACCOUNTS' resource server exchanges Alice's token for a narrower STATEMENTS token with act", async () => {
    const subject = await aliceToken(ACCOUNTS);
    assert.ok(subject.includes('.'), 'a JWT subject token');
    const before = await written();
    const response = await exchange(accountsRs, {
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN,
      resource: STATEMENTS,
      scope: 'statements:read',
    });
    assert.equal(response.issued_token_type, ACCESS_TOKEN);
    assert.equal(response.token_type, 'bearer');
    assert.equal(response.scope, 'statements:read');
    assert.ok(!response.access_token.includes('.'), "STATEMENTS' tokens are opaque");

    // STATEMENTS' resource server introspects it: active, Alice's, issued to the exchanging
    // client, with act, and not outliving the subject token.
    const view = await oidc.tokenIntrospection(await rp(statementsRs), response.access_token);
    assert.equal(view.active, true);
    assert.equal(view.sub, aliceId);
    assert.equal(view.aud, STATEMENTS);
    assert.equal(view.client_id, accountsRs.id);
    assert.equal(view.scope, 'statements:read');
    assert.deepEqual(view.act, { sub: accountsRs.id });
    assert.equal(view.acr, 'urn:portcullis:ac:password');
    assert.ok((view.exp as number) <= (decodeJwt(subject).exp as number));
    // Nobody else learns of it: the web app is neither its client nor STATEMENTS' server.
    assert.deepEqual(
      await oidc.tokenIntrospection(await rp(web, REDIRECT), response.access_token),
      {
        active: false,
      },
    );

    assert.deepEqual(await written(), {
      artifacts: before.artifacts + 2, // the grant it stands on and the token
      audit: before.audit + 2, // token.exchanged and token.issued
    });
    const [event] = await server.app.db
      .knex('audit_events')
      .where({ action: 'token.exchanged' })
      .orderBy('seq', 'desc')
      .limit(1);
    assert.equal(event.actor_id, accountsRs.id);
    assert.equal(event.target_id, aliceId);
    const details = typeof event.details === 'string' ? JSON.parse(event.details) : event.details;
    assert.deepEqual(details, {
      subjectClient: web.id,
      fromApi: ACCOUNTS,
      toApi: STATEMENTS,
      scope: 'statements:read',
      bound: false,
    });
    assert.ok(!JSON.stringify(event).includes(subject), 'never the subject token');
    assert.ok(!JSON.stringify(event).includes(response.access_token), 'never the new token');
  });

  test('without scope: what the roles, the consent, the client and the level all allow', async () => {
    const response = await exchange(accountsRs, {
      subject_token: await aliceToken(ACCOUNTS),
      subject_token_type: ACCESS_TOKEN,
      audience: STATEMENTS,
    });
    // export: no role grants it; admin: needs level 2, Alice signed in with a password.
    assert.equal(response.scope, 'statements:read');
  });

  test('asking wider is invalid_scope, and nothing is written', async () => {
    const subject = await aliceToken(ACCOUNTS);
    const before = await written();
    for (const scope of [
      'statements:read statements:export',
      'statements:admin',
      'accounts:read',
    ]) {
      assert.deepEqual(
        await refusal(accountsRs, {
          subject_token: subject,
          subject_token_type: ACCESS_TOKEN,
          resource: STATEMENTS,
          scope,
        }),
        { error: 'invalid_scope', description: 'requested scope is not allowed' },
        scope,
      );
    }
    assert.deepEqual(await written(), before);
  });

  test('each malformed or unauthorised request is refused with its RFC 8693 error, nothing written', async () => {
    const subject = await aliceToken(ACCOUNTS);
    const ok = { subject_token: subject, subject_token_type: ACCESS_TOKEN, resource: STATEMENTS };
    const before = await written();
    const cases: [string, Secretive, Record<string, string>, string, string][] = [
      [
        'no subject token',
        accountsRs,
        { subject_token_type: ACCESS_TOKEN, resource: STATEMENTS },
        'invalid_request',
        'missing required parameter subject_token',
      ],
      [
        'an ID token type',
        accountsRs,
        { ...ok, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' },
        'invalid_request',
        `subject_token_type must be ${ACCESS_TOKEN}`,
      ],
      [
        'an actor token',
        accountsRs,
        { ...ok, actor_token: 'x', actor_token_type: ACCESS_TOKEN },
        'invalid_request',
        'actor_token is not supported: the authenticated client is the actor',
      ],
      [
        'a refresh token asked for',
        accountsRs,
        { ...ok, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' },
        'invalid_request',
        `requested_token_type must be ${ACCESS_TOKEN}`,
      ],
      [
        'no target',
        accountsRs,
        { subject_token: subject, subject_token_type: ACCESS_TOKEN },
        'invalid_target',
        'name the API the token is for with resource (or audience)',
      ],
      [
        'two targets',
        accountsRs,
        { ...ok, audience: CARDS },
        'invalid_target',
        'a token exchange issues a token for exactly one API: name only one',
      ],
      [
        'an unknown API',
        accountsRs,
        { ...ok, resource: 'https://nowhere.example' },
        'invalid_target',
        'unknown resource https://nowhere.example',
      ],
      [
        'the same API',
        accountsRs,
        { ...ok, resource: ACCOUNTS },
        'invalid_target',
        'the subject token is already for this API',
      ],
      [
        "another API's resource server",
        statementsRs,
        { ...ok, resource: ACCOUNTS },
        'unauthorized_client',
        "only a resource server of the subject token's API may exchange it",
      ],
      [
        'a client not allowed the target',
        accountsRs,
        { ...ok, resource: CARDS },
        'invalid_target',
        `client is not allowed to request tokens for ${CARDS}`,
      ],
      [
        'a client serving no API',
        outsider,
        ok,
        'unauthorized_client',
        "only a resource server of the subject token's API may exchange it",
      ],
      [
        'an unknown token',
        accountsRs,
        { ...ok, subject_token: 'not-a-token' },
        'invalid_grant',
        'the subject token is not active (unknown, expired or revoked)',
      ],
      [
        'a forged JWT',
        accountsRs,
        { ...ok, subject_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' },
        'invalid_grant',
        'the subject token is not active (unknown, expired or revoked)',
      ],
    ];
    for (const [what, client, params, error, description] of cases)
      assert.deepEqual(await refusal(client, params), { error, description }, what);

    // A client credentials token has no person behind it.
    const machine = (await oidc.clientCredentialsGrant(await rp(cardsBatch), { resource: CARDS }))
      .access_token;
    assert.deepEqual(await refusal(accountsRs, { ...ok, subject_token: machine }), {
      error: 'invalid_grant',
      description: "the subject token is not a person's access token",
    });
    const afterMachine = await written();
    assert.deepEqual(
      afterMachine.audit,
      before.audit + 1,
      'only the client credentials token.issued',
    );
    assert.equal(afterMachine.artifacts, before.artifacts);
  });

  test('a client without the grant type is refused: unauthorized_client', async () => {
    assert.deepEqual(
      await refusal(web, {
        subject_token: await aliceToken(ACCOUNTS),
        subject_token_type: ACCESS_TOKEN,
        resource: STATEMENTS,
      }),
      {
        error: 'unauthorized_client',
        description: 'requested grant type is not allowed for this client',
      },
    );
  });

  test('a revoked subject token is refused with invalid_grant', async () => {
    const subject = await aliceToken(STATEMENTS);
    assert.ok(!subject.includes('.'), 'an opaque subject token');
    await oidc.tokenRevocation(await rp(web, REDIRECT), subject);
    const before = await written();
    assert.deepEqual(
      await refusal(statementsRs, {
        subject_token: subject,
        subject_token_type: ACCESS_TOKEN,
        resource: ACCOUNTS,
      }),
      {
        error: 'invalid_grant',
        description: 'the subject token is not active (unknown, expired or revoked)',
      },
    );
    assert.deepEqual(await written(), before);
  });

  test('exchanged again, act nests the earlier actor; a JWT is refused once its grant is revoked', async () => {
    const subject = await aliceToken(ACCOUNTS);
    const first = await exchange(accountsRs, {
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN,
      resource: STATEMENTS,
    });
    const second = await exchange(statementsRs, {
      subject_token: first.access_token,
      subject_token_type: ACCESS_TOKEN,
      resource: ACCOUNTS,
    });
    assert.equal(second.scope, 'accounts:read');
    const claims = decodeJwt(second.access_token);
    assert.equal(claims.sub, aliceId);
    assert.equal(claims.client_id, statementsRs.id);
    assert.deepEqual(claims.act, { sub: statementsRs.id, act: { sub: accountsRs.id } });

    // Alice revokes the web app on her account page: its JWTs can no longer be exchanged.
    await server.app.services.grants.revokeClient(aliceId, web.id);
    assert.deepEqual(
      await refusal(accountsRs, {
        subject_token: subject,
        subject_token_type: ACCESS_TOKEN,
        resource: STATEMENTS,
      }),
      {
        error: 'invalid_grant',
        description: 'the subject token is not active (unknown, expired or revoked)',
      },
    );
  });

  test('with a DPoP proof the new token is bound to the exchanging client', async () => {
    const key = await oidc.randomDPoPKeyPair('ES256');
    const config = await rp(statementsRs);
    const response = await oidc.genericGrantRequest(
      config,
      EXCHANGE,
      {
        subject_token: await aliceToken(STATEMENTS),
        subject_token_type: ACCESS_TOKEN,
        resource: ACCOUNTS,
      },
      { DPoP: oidc.getDPoPHandle(config, key) },
    );
    assert.equal(response.token_type, 'dpop');
    const claims = decodeJwt(response.access_token);
    assert.ok((claims.cnf as { jkt?: string }).jkt, 'cnf.jkt');
  });

  test('a FAPI 2.0 client exchanges only with a DPoP proof: its token is bound to its key', async () => {
    const subject = await aliceToken(ACCOUNTS);
    const form = () => ({
      grant_type: EXCHANGE,
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN,
      resource: STATEMENTS,
      ...assertionFields(fapiRs.id, clientAssertion(fapiRs.key, fapiRs.id, server.issuer)),
    });
    const before = await written();
    assertError(
      await send(server, '/token', form()),
      400,
      'invalid_request',
      "this client's tokens are DPoP-bound: send a DPoP proof",
    );
    assert.deepEqual(await written(), before, 'nothing written');

    const dpopKey = signingKey('ES256');
    const bound = await send(server, '/token', form(), {
      headers: { DPoP: dpopProof(dpopKey, 'POST', server.url('/token')) },
    });
    assert.equal(bound.status, 200, JSON.stringify(bound.body));
    assert.equal(bound.body.token_type, 'DPoP');
    const view = await oidc.tokenIntrospection(await rp(statementsRs), bound.body.access_token);
    assert.equal(view.active, true);
    assert.deepEqual(view.cnf, { jkt: thumbprint(dpopKey) });
    assert.deepEqual(view.act, { sub: fapiRs.id });
  });

  test("the person's present roles and status count, not those at sign-in", async () => {
    const { accounts, roles } = server.app.services;
    const subject = await aliceToken(ACCOUNTS);
    const params = {
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN,
      resource: STATEMENTS,
    };
    const before = await written();
    await roles.revoke('alice@example.com', 'customer');
    try {
      assert.deepEqual(await refusal(accountsRs, params), {
        error: 'invalid_scope',
        description: `no scope of ${STATEMENTS} may be exchanged for`,
      });
    } finally {
      await roles.grant('alice@example.com', 'customer');
    }
    await accounts.disable('alice@example.com');
    try {
      assert.deepEqual(await refusal(accountsRs, params), {
        error: 'invalid_grant',
        description: 'the person of the subject token cannot be served',
      });
    } finally {
      await accounts.enable('alice@example.com');
    }
    assert.deepEqual(await written(), before, 'nothing written');
    assert.equal((await exchange(accountsRs, params)).scope, 'statements:read');
  });

  test('discovery lists the grant type', async () => {
    const metadata = (await fetch(server.url('/.well-known/openid-configuration')).then((r) =>
      r.json(),
    )) as { grant_types_supported: string[] };
    assert.ok(metadata.grant_types_supported.includes(EXCHANGE));
  });
});
