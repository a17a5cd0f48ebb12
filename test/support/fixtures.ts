// A small bank for tests: one API with two scopes, a customer role, people, and a web client.
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { authorizationUrl, pkce } from './browserless.ts';
import type { TestServer } from './server.ts';

export const BANK_API = 'https://bank.api.example';
export const REDIRECT_URI = 'https://app.example/callback';
export const PASSWORD = 'correct horse battery staple';

export interface Bank {
  client: { id: string; secret: string };
  alice: { id: string; email: string };
  /** openid-client configuration for the web client. */
  rp(): Promise<oidc.Configuration>;
  /**
   * The web client's authorization URL for `openid accounts:read` at the bank's API, with a
   * fresh PKCE challenge (state random unless given; `extra` parameters added).
   */
  authorizationUrl(o?: { state?: string; extra?: Record<string, string> }): string;
}

export async function seedBank(
  server: TestServer,
  options: { firstParty?: boolean } = {},
): Promise<Bank> {
  const { catalogue, clients, accounts, roles } = server.app.services;
  await catalogue.create({
    identifier: BANK_API,
    name: 'Bank API',
    tokenFormat: 'jwt',
    accessTokenTtl: 300,
    scopes: [
      { name: 'accounts:read', description: 'See your accounts and balances' },
      { name: 'payments:write', description: 'Make payments from your accounts' },
    ],
  });
  await roles.create({ name: 'customer', scopes: ['accounts:read'] });
  const alice = await accounts.create({
    email: 'alice@example.com',
    name: 'Alice Liddell',
    password: PASSWORD,
    roles: ['customer'],
  });
  const created = await clients.create({
    name: 'Budget Planner',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: [REDIRECT_URI],
    postLogoutRedirectUris: ['https://app.example/signed-out'],
    authMethod: 'client_secret_basic',
    apiAccess: { [BANK_API]: ['accounts:read', 'payments:write'] },
    firstParty: options.firstParty,
  });
  const client = { id: created.client.clientId, secret: created.secret! };
  return {
    client,
    alice: { id: alice.id, email: alice.email },
    authorizationUrl: ({ state, extra } = {}) =>
      authorizationUrl({
        issuer: server.issuer,
        clientId: client.id,
        redirectUri: REDIRECT_URI,
        scope: 'openid accounts:read',
        resource: BANK_API,
        challenge: pkce().challenge,
        state: state ?? randomBytes(8).toString('hex'),
        extra,
      }),
    rp: () =>
      oidc.discovery(
        new URL(server.issuer),
        client.id,
        { redirect_uris: [REDIRECT_URI] },
        oidc.ClientSecretBasic(client.secret),
        {
          execute: [oidc.allowInsecureRequests],
        },
      ),
  };
}
