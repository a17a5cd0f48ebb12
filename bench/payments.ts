// The world of the payment consent scenario (10), seeded through Portcullis' services: a payments
// API declaring the payment_initiation detail type, a FAPI 2.0 payment-initiation client (the
// third party), the bank's own client that consumes consents, and people who sign in with a
// password and hold a synced passkey, registered through Portcullis' own WebAuthn ceremony.
import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { normalizePassword } from '../src/accounts/passwordPolicy.ts';
import type { App } from '../src/app.ts';
import { SoftAuthenticator } from '../test/support/softAuthenticator.ts';
import { BENCH_PASSWORD } from './people.ts';

export const PAYMENTS_API = {
  identifier: 'https://bench-payments.api.example',
  /** What the third party asks for on the person's behalf. */
  scope: 'payments:initiate',
  /** What the bank's payment service needs to read and consume consents. */
  consentScope: 'payments:execute',
  detailType: 'payment_initiation',
  // The bank's consuming token is issued once per scenario and must outlive its rounds.
  ttl: 3600,
};
export const PAYMENT_REDIRECT_URI = 'http://127.0.0.1/bench/payments/callback';

/** A passkey as the load process rebuilds it (plain JSON: it travels over IPC). */
export interface PasskeyJson {
  id: string;
  /** base64url of the user handle the registration options carried. */
  userHandle: string;
  privateJwk: JWK;
}

export interface Payer {
  email: string;
  passkey: PasskeyJson;
}

export interface Payments {
  /** The third party: fapi2, authorization_code, private_key_jwt (ES256), PAR and DPoP. */
  tpp: { clientId: string; privateJwk: JWK & { kid: string }; redirectUri: string };
  /** The bank's payment service: client_credentials with the API's consent scope. */
  bank: { clientId: string; secret: string };
  password: string;
  payers: Payer[];
}

/** Seeds the payments API, its two clients and `count` people with a passkey each. */
export async function seedPayments(
  app: App,
  clientKey: (kid: string) => Promise<{ publicJwk: JWK; privateJwk: JWK & { kid: string } }>,
  count: number,
): Promise<Payments> {
  const { catalogue, clients, roles, accounts, hasher, webauthn } = app.services;
  await catalogue.create({
    identifier: PAYMENTS_API.identifier,
    name: 'Bench payments API',
    tokenFormat: 'jwt',
    accessTokenTtl: PAYMENTS_API.ttl,
    scopes: [
      { name: PAYMENTS_API.scope, description: 'Initiate a payment' },
      { name: PAYMENTS_API.consentScope, description: 'Execute consented payments' },
    ],
    detailTypes: [PAYMENTS_API.detailType],
    consentScope: PAYMENTS_API.consentScope,
  });
  const key = await clientKey('bench-tpp-key');
  const tpp = await clients.create(
    {
      name: 'Bench payment initiation',
      grantTypes: ['authorization_code'],
      redirectUris: [PAYMENT_REDIRECT_URI],
      authMethod: 'private_key_jwt',
      jwks: { keys: [key.publicJwk as Record<string, unknown>] },
      apiAccess: { [PAYMENTS_API.identifier]: [PAYMENTS_API.scope] },
      profile: 'fapi2',
    },
    'bench',
  );
  const bank = await clients.create(
    {
      name: 'Bench payment service',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [PAYMENTS_API.identifier]: [PAYMENTS_API.consentScope] },
    },
    'bench',
  );

  const role = await roles.create({
    name: 'bench-payer',
    scopes: { [PAYMENTS_API.identifier]: [PAYMENTS_API.scope] },
  });
  const passwordHash = await hasher.hash(normalizePassword(BENCH_PASSWORD));
  const people = await accounts.importUsers(
    Array.from({ length: count }, (_, i) => ({ email: `payer-${i}@bench.example`, passwordHash })),
    [role.name],
  );
  // A synced passkey (counter 0, as synced passkeys keep it): every assertion may say 0 again,
  // so load processes need not share a counter.
  const authenticator = new SoftAuthenticator({ origin: app.config.issuer, synced: true });
  const payers: Payer[] = [];
  for (const person of people) {
    const binding = `bench-${randomBytes(8).toString('base64url')}`;
    const options = await webauthn.registrationOptions(
      { id: person.id, email: person.email, name: '' },
      binding,
    );
    const response = authenticator.register(options);
    await webauthn.register(person.id, binding, response, 'Bench passkey');
    const credential = authenticator.credentials.get(response.id)!;
    payers.push({
      email: person.email,
      passkey: {
        id: credential.id,
        userHandle: credential.userHandle,
        privateJwk: credential.privateKey.export({ format: 'jwk' }) as JWK,
      },
    });
  }
  return {
    tpp: {
      clientId: tpp.client.clientId,
      privateJwk: key.privateJwk,
      redirectUri: PAYMENT_REDIRECT_URI,
    },
    bank: { clientId: bank.client.clientId, secret: bank.secret! },
    password: BENCH_PASSWORD,
    payers,
  };
}
