// The world of the token exchange tests: ACCOUNTS (JWT tokens) and STATEMENTS (opaque), each
// with its resource server allowed the grant for the other; Alice, whose roles grant some of
// STATEMENTS' scopes; a web app she signs in to; an outsider; a FAPI 2.0 resource server.
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { HttpBrowser, loginForCode } from '../support/browserless.ts';
import { signingKey } from '../support/fapi.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

export const ACCOUNTS = 'https://accounts.api.example';
export const STATEMENTS = 'https://statements.api.example';
export const CARDS = 'https://cards.api.example';
export const REDIRECT = 'https://app.example/callback';
export const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

export type Secretive = { id: string; secret: string };

export async function exchangeWorld() {
  const server: TestServer = await startTestServer();

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
  const aliceId = (
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
  /** ACCOUNTS' resource server, allowed to exchange for STATEMENTS. */
  const accountsRs = await create('Accounts API', [EXCHANGE], { [STATEMENTS]: all });
  /** STATEMENTS' resource server, allowed to exchange for ACCOUNTS. */
  const statementsRs = await create('Statements API', [EXCHANGE], {
    [ACCOUNTS]: ['accounts:read'],
  });
  /** Allowed the grant and STATEMENTS, but serves no API. */
  const outsider = await create('Outsider', [EXCHANGE], { [STATEMENTS]: all });
  /** A client credentials client of CARDS (no token exchange). */
  const cardsBatch = await create('Cards batch', ['client_credentials'], {
    [CARDS]: ['cards:read'],
  });
  const webClient = await clients.create({
    name: 'Budget Planner',
    grantTypes: ['authorization_code'],
    redirectUris: [REDIRECT],
    authMethod: 'client_secret_basic',
    apiAccess: { [ACCOUNTS]: ['accounts:read'], [STATEMENTS]: all },
    firstParty: true,
  });
  const web = { id: webClient.client.clientId, secret: webClient.secret! };
  const fapiKey = signingKey('ES256');
  /** A FAPI 2.0 resource server of ACCOUNTS (private_key_jwt, DPoP-bound tokens). */
  const fapiRs = {
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

  return {
    server,
    aliceId,
    web,
    accountsRs,
    statementsRs,
    outsider,
    cardsBatch,
    fapiRs,
    rp,
    aliceToken,
    exchange,
    refusal,
    written,
  };
}

export type ExchangeWorld = Awaited<ReturnType<typeof exchangeWorld>>;
