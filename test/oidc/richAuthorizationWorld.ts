// A small bank for the rich authorization request tests: a payments API (JWT tokens) declaring
// payment_initiation, an accounts API (opaque tokens) declaring account_information, a person,
// a third-party app allowed both, one allowed the accounts API only, and the counts a refusal
// test checks (consents, pushed requests, codes and tokens).
import * as oidc from 'openid-client';
import type { GrantType } from '../../src/oidc/grantTypes.ts';
import { PASSWORD } from '../support/fixtures.ts';
import type { TestServer } from '../support/server.ts';

export const PAYMENTS = 'https://payments.api.example';
export const ACCOUNTS = 'https://accounts.api.example';
export const REDIRECT = 'https://tpp.example/callback';

export const PAYMENT = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'EUR', amount: '1250.00' },
  creditorName: 'ACME GmbH',
  creditorAccount: { iban: 'DE89370400440532013000' },
  remittanceInformation: 'Invoice 2026-117',
};

export const accountAccess = (days = 90) => ({
  type: 'account_information',
  accounts: 'all',
  access: ['balances', 'transactions'],
  expirationDateTime: new Date(Date.now() + days * 86_400_000).toISOString(),
});

export type Secretive = { id: string; secret: string };

export interface RarWorld {
  person: { id: string; email: string };
  /** Allowed both APIs (code, refresh and client credentials). */
  tpp: Secretive;
  /** Allowed the accounts API only. */
  reader: Secretive;
  /** The payments API's backend: client credentials with the consent scope. */
  paymentsRs: Secretive;
  /** The accounts API's backend (its declared resource server). */
  accountsRs: Secretive;
  rp(client: Secretive): Promise<oidc.Configuration>;
}

/** `redirect`: the apps' redirect URI (the browser tests give a local callback server's). */
export async function seedRar(server: TestServer, redirect = REDIRECT): Promise<RarWorld> {
  const { catalogue, clients, accounts, roles } = server.app.services;
  const confidential = async (
    name: string,
    grantTypes: GrantType[],
    apiAccess: Record<string, string[]>,
  ): Promise<Secretive> => {
    const { client, secret } = await clients.create({
      name,
      grantTypes,
      redirectUris: grantTypes.includes('authorization_code') ? [redirect] : undefined,
      authMethod: 'client_secret_basic',
      apiAccess,
    });
    return { id: client.clientId, secret: secret! };
  };
  await catalogue.create({
    identifier: PAYMENTS,
    name: 'Payments API',
    tokenFormat: 'jwt',
    accessTokenTtl: 300,
    scopes: [
      { name: 'payments:write', description: 'Make payments from your accounts' },
      { name: 'payments:execute', description: 'Execute consented payments' },
    ],
    detailTypes: ['payment_initiation'],
    consentScope: 'payments:execute',
  });
  const accountsApi = await catalogue.create({
    identifier: ACCOUNTS,
    name: 'Accounts API',
    tokenFormat: 'opaque',
    accessTokenTtl: 300,
    scopes: [
      { name: 'accounts:read', description: 'See your accounts and balances' },
      { name: 'consents:read', description: 'Read account-access consents' },
    ],
    detailTypes: ['account_information'],
    consentScope: 'consents:read',
  });
  const paymentsRs = await confidential('Payments backend', ['client_credentials'], {
    [PAYMENTS]: ['payments:execute'],
  });
  const accountsRs = await confidential('Accounts backend', ['client_credentials'], {
    [ACCOUNTS]: ['consents:read'],
  });
  await catalogue.update(accountsApi.id, { resourceServers: [accountsRs.id] });
  await roles.create({
    name: 'customer',
    scopes: { [PAYMENTS]: ['payments:write'], [ACCOUNTS]: ['accounts:read'] },
  });
  const email = 'pat@example.com';
  const person = await accounts.create({ email, password: PASSWORD, roles: ['customer'] });
  const tpp = await confidential(
    'Third-party provider',
    ['authorization_code', 'refresh_token', 'client_credentials'],
    { [PAYMENTS]: ['payments:write'], [ACCOUNTS]: ['accounts:read'] },
  );
  const reader = await confidential('Account reader', ['authorization_code', 'refresh_token'], {
    [ACCOUNTS]: ['accounts:read'],
  });
  return {
    person: { id: person.id, email },
    tpp,
    reader,
    paymentsRs,
    accountsRs,
    rp: (client) =>
      oidc.discovery(
        new URL(server.issuer),
        client.id,
        { redirect_uris: [redirect] },
        oidc.ClientSecretBasic(client.secret),
        { execute: [oidc.allowInsecureRequests] },
      ),
  };
}

/** Rows a refused request must not add: consents, pushed requests, codes, tokens, grants. */
export async function written(server: TestServer): Promise<Record<string, number>> {
  const { knex } = server.db;
  const count = async (q: ReturnType<typeof knex>) =>
    Number(((await q.count('* as n')) as { n: unknown }[])[0]?.n ?? 0);
  const out: Record<string, number> = { consents: await count(knex('consents')) };
  for (const model of [
    'PushedAuthorizationRequest',
    'AuthorizationCode',
    'AccessToken',
    'RefreshToken',
    'ClientCredentials',
    'Grant',
  ])
    out[model] = await count(knex('oidc_artifacts').where({ model }));
  return out;
}

/** A form POST with HTTP Basic client authentication; the status and JSON body. */
export async function postAs(
  url: string,
  client: Secretive,
  form: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(
        `${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`,
      ).toString('base64')}`,
    },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}
