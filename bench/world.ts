// What every target serves: two APIs (JWT and opaque tokens), a client_secret_basic client, a
// private_key_jwt client, a FAPI 2.0-style client, and one ES256 signing key. Portcullis is seeded through its own
// services; the baseline receives the same key, client metadata and API table as static config.
// Portcullis alone also gets the payments world of scenario 10 (payments.ts).
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Argon2Params } from '../src/accounts/passwords.ts';
import type { App } from '../src/app.ts';
import { type Payments, seedPayments } from './payments.ts';
import { type People, type PeopleCounts, seedPeople } from './people.ts';

export interface ApiFixture {
  identifier: string;
  scope: string;
  format: 'jwt' | 'opaque';
  ttl: number;
}

export const JWT_API: ApiFixture = {
  identifier: 'https://bench-jwt.api.example',
  scope: 'bench:read',
  format: 'jwt',
  ttl: 300,
};
// Long enough that the introspection pool stays live for the whole run, growth included.
export const OPAQUE_API: ApiFixture = {
  identifier: 'https://bench-opaque.api.example',
  scope: 'bench:read',
  format: 'opaque',
  ttl: 4 * 3600,
};

export interface World {
  apis: ApiFixture[];
  /** client_credentials, client_secret_basic, allowed on both APIs. */
  basic: { clientId: string; secret: string };
  /** client_credentials, private_key_jwt (ES256), allowed on the JWT API. */
  signed: { clientId: string; privateJwk: JWK & { kid: string } };
  /**
   * client_credentials, private_key_jwt (ES256, its own key), allowed on the JWT API, profile
   * fapi2 (DPoP-bound tokens required): the FAPI 2.0 scenario's client.
   */
  fapi: { clientId: string; privateJwk: JWK & { kid: string } };
  /** Private signing JWKs, the active one first (the baseline signs with the same key). */
  signingJwks: JWK[];
  /** Client metadata exactly as oidc-provider reads it from Portcullis (secrets opened). */
  clientMetadata: Record<string, unknown>[];
  /** Users and the web-app client of the login and refresh scenarios (JWT API, bench:read). */
  people: People;
  /** The payment consent scenario's API, clients and people with passkeys (Portcullis only). */
  payments: Payments;
  /** Portcullis' Argon2 parameters (the login scenarios' ceiling is measured with them). */
  argon2: Argon2Params;
}

/** An ES256 key pair of a private_key_jwt client: the public JWK it registers, the private one it signs with. */
async function clientKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
  };
}

export interface SeedCounts extends PeopleCounts {
  /** People with a passkey for the payment consent scenario. */
  payers: number;
}

/** Seeds APIs, clients, users and the signing key through Portcullis' services. */
export async function seedPortcullis(app: App, counts: SeedCounts): Promise<World> {
  const { catalogue, clients, signingKeys } = app.services;
  for (const api of [JWT_API, OPAQUE_API]) {
    await catalogue.create({
      identifier: api.identifier,
      name: `Bench ${api.format} API`,
      tokenFormat: api.format,
      accessTokenTtl: api.ttl,
      scopes: [{ name: api.scope, description: 'Read bench data' }],
    });
  }
  const basic = await clients.create(
    {
      name: 'Bench client_secret_basic',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: {
        [JWT_API.identifier]: [JWT_API.scope],
        [OPAQUE_API.identifier]: [OPAQUE_API.scope],
      },
    },
    'bench',
  );

  const signedKey = await clientKey('bench-client-key');
  const signed = await clients.create(
    {
      name: 'Bench private_key_jwt',
      grantTypes: ['client_credentials'],
      authMethod: 'private_key_jwt',
      jwks: { keys: [signedKey.publicJwk] },
      apiAccess: { [JWT_API.identifier]: [JWT_API.scope] },
    },
    'bench',
  );
  const fapiKey = await clientKey('bench-fapi-key');
  const fapi = await clients.create(
    {
      name: 'Bench FAPI 2.0',
      grantTypes: ['client_credentials'],
      authMethod: 'private_key_jwt',
      jwks: { keys: [fapiKey.publicJwk] },
      apiAccess: { [JWT_API.identifier]: [JWT_API.scope] },
      // FAPI 2.0: DPoP-bound tokens required, assertions held to the profile's limits.
      profile: 'fapi2',
    },
    'bench',
  );

  const people = await seedPeople(app, JWT_API, counts);
  const payments = await seedPayments(app, clientKey, counts.payers);

  await signingKeys.ensureActiveKey();
  const ring = await signingKeys.loadRing();
  if (!ring) throw new Error('Portcullis has no active signing key');
  const clientMetadata: Record<string, unknown>[] = [];
  const ids = [basic.client, signed.client, fapi.client, people.client].map((c) => c.clientId);
  for (const id of ids) {
    const metadata = await clients.providerMetadata(id);
    if (!metadata) throw new Error(`client ${id} was not stored`);
    clientMetadata.push(metadata);
  }
  return {
    apis: [JWT_API, OPAQUE_API],
    basic: { clientId: basic.client.clientId, secret: basic.secret! },
    signed: { clientId: signed.client.clientId, privateJwk: signedKey.privateJwk },
    fapi: { clientId: fapi.client.clientId, privateJwk: fapiKey.privateJwk },
    signingJwks: ring.jwks,
    clientMetadata,
    people,
    payments,
    argon2: app.config.passwords.argon2,
  };
}

const basic = (clientId: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export const basicAuthorization = (world: World) => basic(world.basic.clientId, world.basic.secret);

/** The web-app client of the login and refresh scenarios. */
export const loginClientAuthorization = (world: World) =>
  basic(world.people.client.clientId, world.people.client.secret);
