// A bank with consents for tests of the consent API, the admin API and the account page: a
// payments API and an account-information API declaring detail types, their resource servers
// (client-credentials clients), a person, and consents made through the domain directly.
import { randomBytes } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import type { Consent } from '../../src/consents/consents.ts';
import type { Reply } from '../admin/helpers.ts';
import { ACCOUNTS, PAYMENT, PAYMENTS } from '../oidc/richAuthorizationWorld.ts';
import { PASSWORD } from '../support/fixtures.ts';
import type { TestServer } from '../support/server.ts';

export { PAYMENT };
export const PAYMENTS_API = PAYMENTS;
export const ACCOUNTS_API = ACCOUNTS;
export const PLAIN_API = 'https://plain.api.example';

export interface Machine {
  id: string;
  secret: string;
}

export async function seedConsentWorld(server: TestServer) {
  const { catalogue, clients, accounts } = server.app.services;
  await catalogue.create({
    identifier: PAYMENTS_API,
    name: 'Payments API',
    scopes: [
      { name: 'payments:execute', description: 'Execute payments people consented to' },
      { name: 'payments:read', description: 'Read payments' },
    ],
    detailTypes: ['payment_initiation'],
    consentScope: 'payments:execute',
  });
  await catalogue.create({
    identifier: ACCOUNTS_API,
    name: 'Accounts API',
    scopes: [{ name: 'accounts:consents', description: 'Read account-access consents' }],
    detailTypes: ['account_information'],
    consentScope: 'accounts:consents',
  });
  await catalogue.create({
    identifier: PLAIN_API,
    name: 'Plain API',
    scopes: [{ name: 'plain:read', description: 'Read' }],
  });
  const alice = await accounts.create({ email: 'alice@example.com', password: PASSWORD });
  const bob = await accounts.create({ email: 'bob@example.com', password: PASSWORD });
  const app = await clients.create({
    name: 'Budget Planner',
    grantTypes: ['authorization_code', 'refresh_token'],
    authMethod: 'client_secret_basic',
    redirectUris: ['https://app.example/callback'],
    apiAccess: { [PAYMENTS_API]: ['payments:read'] },
  });

  async function machine(apiAccess: Record<string, string[]>, name = 'Payment engine') {
    const { client, secret } = await clients.create({
      name,
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess,
    });
    return { id: client.clientId, secret: secret! };
  }

  /** A client-credentials token from the token endpoint, with openid-client. */
  async function tokenFor(client: Machine, resource: string, scope?: string): Promise<string> {
    const config = await oidc.discovery(
      new URL(server.issuer),
      client.id,
      {},
      oidc.ClientSecretBasic(client.secret),
      { execute: [oidc.allowInsecureRequests] },
    );
    const tokens = await oidc.clientCredentialsGrant(config, {
      resource,
      ...(scope ? { scope } : {}),
    });
    return tokens.access_token;
  }

  /** A token signed with the server's own key (for what the token endpoint never issues). */
  async function forge(claims: Record<string, unknown>): Promise<string> {
    const jwk = server.app.oidc.ring.jwks[0]!;
    const key = await importJWK(jwk, jwk.alg);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: server.issuer, iat: now, exp: now + 300, ...claims })
      .setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid, typ: 'at+jwt' })
      .sign(key);
  }

  /** A consent the person authorised (through the domain, as the consent page does). */
  async function authorised(
    details: Record<string, unknown>[] = [PAYMENT],
    who = alice.id,
  ): Promise<Consent> {
    const { consents } = server.app.services;
    const opened = await consents.open({
      clientId: app.client.clientId,
      accountId: who,
      interactionUid: randomBytes(12).toString('base64url'),
      details: details as never,
    });
    return consents.authorise(opened.id, {
      grantId: randomBytes(16).toString('base64url'),
      accountId: who,
    });
  }

  async function call(
    method: string,
    path: string,
    token?: string,
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    const res = await fetch(server.url(path), {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }

  return { alice, bob, app: app.client, machine, tokenFor, forge, authorised, call };
}
