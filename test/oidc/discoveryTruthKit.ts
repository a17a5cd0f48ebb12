// The world of test/oidc/discoveryTruth.test.ts: a server signing with every algorithm it can, a
// public and a private API, a client per authentication method, a client per signing algorithm,
// and the requests that exercise what the discovery document advertises.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { HttpBrowser, loginForCode, pkce } from '../support/browserless.ts';
import {
  type Alg,
  clientAssertion,
  now,
  type SigningKey,
  signingKey,
  signJws,
} from '../support/fapi.ts';
import { BANK_API, type Bank, PASSWORD, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { buildFlowWorld, type FlowWorld, startReceivers } from './discoveryTruthFlowWorld.ts';

export const PUBLIC_API = 'https://rates.api.example';
export type Doc = Record<string, unknown>;

/** A client and how it authenticates; `key` for private_key_jwt. */
export interface TestClient {
  id: string;
  method: string;
  secret?: string | undefined;
}

export interface World {
  server: TestServer;
  bank: Bank;
  doc: Doc;
  /** A client per token endpoint authentication method Portcullis offers. */
  byMethod: Map<string, TestClient>;
  /** The private_key_jwt client's keys, per JOSE algorithm it signs with. */
  keys: Map<string, { key: SigningKey; signAs: Alg }>;
  /** A client per algorithm advertised for ID tokens, all its responses signed with it. */
  byAlg: Map<string, TestClient>;
  /** Device, CIBA, token exchange and logout (discoveryTruthFlowWorld.ts). */
  flows: FlowWorld;
  close(): Promise<void>;
}

/** The keys the private_key_jwt client registers: each advertised client algorithm signs with one. */
function clientKeys(): Map<string, { key: SigningKey; signAs: Alg }> {
  const ec = signingKey('ES256');
  const rsa = signingKey('PS256');
  const ed = signingKey('EdDSA');
  return new Map([
    ['ES256', { key: ec, signAs: 'ES256' }],
    ['PS256', { key: rsa, signAs: 'PS256' }],
    ['EdDSA', { key: ed, signAs: 'EdDSA' }],
    // RFC 9864's fully specified name of the same Ed25519 signature.
    ['Ed25519', { key: ed, signAs: 'EdDSA' }],
  ]);
}

export async function buildWorld(): Promise<World> {
  const receivers = await startReceivers();
  const server = await startTestServer({
    fetch: receivers.receiver.fetch,
    env: {
      SIGNING_ALGS: 'ES256,PS256,Ed25519',
      DEVICE_POLL_INTERVAL_SECONDS: '1',
      BACKCHANNEL_LOGOUT_POLL_SECONDS: '0',
    },
  });
  const bank = await seedBank(server);
  const { catalogue, clients } = server.app.services;
  await catalogue.create({
    identifier: PUBLIC_API,
    name: 'Exchange rates',
    public: true,
    scopes: [{ name: 'rates:read', description: 'Read exchange rates' }],
  });
  const keys = clientKeys();
  const jwks = { keys: [...new Set([...keys.values()].map((k) => k.key))].map((k) => k.publicJwk) };
  const base = {
    grantTypes: ['authorization_code', 'client_credentials'] as const,
    redirectUris: [REDIRECT_URI],
    apiAccess: { [PUBLIC_API]: ['rates:read'], [BANK_API]: ['accounts:read'] },
  };
  const byMethod = new Map<string, TestClient>();
  for (const method of ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const) {
    const { client, secret } = await clients.create({
      ...base,
      grantTypes: [...base.grantTypes],
      name: `Client (${method})`,
      authMethod: method,
      ...(method === 'private_key_jwt' ? { jwks } : {}),
    });
    byMethod.set(method, { id: client.clientId, method, secret });
  }
  const { client: publicClient } = await clients.create({
    ...base,
    grantTypes: ['authorization_code'],
    name: 'Mobile app',
    authMethod: 'none',
  });
  byMethod.set('none', { id: publicClient.clientId, method: 'none' });

  const doc = (await (await fetch(server.url('/.well-known/openid-configuration'))).json()) as Doc;
  const byAlg = new Map<string, TestClient>();
  for (const alg of doc.id_token_signing_alg_values_supported as string[]) {
    const { client, secret } = await clients.create({
      name: `Relying party (${alg})`,
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECT_URI],
      authMethod: 'client_secret_basic',
      apiAccess: { [BANK_API]: ['accounts:read'] },
      idTokenAlg: alg,
      userinfoAlg: alg,
      authorizationAlg: alg,
      introspectionAlg: alg,
    });
    byAlg.set(alg, { id: client.clientId, method: 'client_secret_basic', secret });
  }
  const flows = await buildFlowWorld(server, bank, PUBLIC_API, jwks, receivers);
  return {
    server,
    bank,
    // Read again: what the catalogue declares (public scopes, detail types) is in it now.
    doc: (await (await fetch(server.url('/.well-known/openid-configuration'))).json()) as Doc,
    byMethod,
    keys,
    byAlg,
    flows,
    async close() {
      await server.close();
      await flows.receiver.close();
      await flows.logoutReceiver.close();
    },
  };
}

/**
 * Form fields and headers authenticating `client` by its method; `broken` spoils the
 * credentials (a wrong secret, an assertion signed by another key, an unknown client id).
 */
export function authenticate(
  world: World,
  client: TestClient,
  audience: string,
  broken = false,
): { headers: Record<string, string>; fields: Record<string, string> } {
  switch (client.method) {
    case 'client_secret_basic': {
      const secret = broken ? 'wrong' : client.secret!;
      const basic = Buffer.from(`${client.id}:${secret}`).toString('base64');
      return { headers: { authorization: `Basic ${basic}` }, fields: {} };
    }
    case 'client_secret_post':
      return {
        headers: {},
        fields: { client_id: client.id, client_secret: broken ? 'wrong' : client.secret! },
      };
    case 'private_key_jwt': {
      const key = broken ? signingKey('ES256') : world.keys.get('ES256')!.key;
      const assertion = clientAssertion(key, client.id, audience, {
        header: { kid: world.keys.get('ES256')!.key.publicJwk.kid },
      });
      return {
        headers: {},
        fields: {
          client_id: client.id,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        },
      };
    }
    case 'none':
      return { headers: {}, fields: { client_id: broken ? 'no-such-client' : client.id } };
    default:
      throw new Error(`no way to authenticate with ${client.method}: add it to authenticate()`);
  }
}

/** A form POST; the status and the JSON (or text) answer. */
export async function post(
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; text: string; type: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields),
  });
  const text = await res.text();
  const type = res.headers.get('content-type')?.split(';')[0] ?? '';
  return {
    status: res.status,
    body: type === 'application/json' ? JSON.parse(text) : {},
    text,
    type,
  };
}

/** Signs in as Alice for `client`; returns the code exchange's tokens and the browser. */
export async function signIn(
  world: World,
  client: TestClient,
  scope = 'openid profile email',
  extra: Record<string, string> = {},
  /** The API the code is redeemed for (RFC 8707); none: a token for UserInfo. */
  resource?: string,
) {
  const browser = new HttpBrowser();
  const { redirect, verifier } = await loginForCode(browser, {
    issuer: world.server.issuer,
    clientId: client.id,
    redirectUri: REDIRECT_URI,
    scope,
    extra,
    email: 'alice@example.com',
    password: PASSWORD,
  });
  assert.ok(redirect, 'the sign-in ends at the redirect URI');
  const rp = await oidc.discovery(
    new URL(world.server.issuer),
    client.id,
    { redirect_uris: [REDIRECT_URI] },
    oidc.ClientSecretBasic(client.secret!),
    { execute: [oidc.allowInsecureRequests] },
  );
  const tokens = await oidc.authorizationCodeGrant(
    rp,
    redirect,
    { pkceCodeVerifier: verifier, expectedState: redirect.searchParams.get('state')! },
    resource ? { resource } : undefined,
  );
  return { tokens, browser, redirect, rp };
}

/** Authorization request parameters for `client` with a fresh PKCE pair and state. */
export function authorizeParams(client: TestClient, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce();
  return {
    verifier,
    params: {
      client_id: client.id,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: randomUUID(),
      ...extra,
    },
  };
}

/** A request object (JAR, RFC 9101) of `client` signed with the key of `alg`. */
export function requestObject(
  world: World,
  client: TestClient,
  alg: string,
  params: Record<string, string>,
): string {
  const { key, signAs } = world.keys.get(alg)!;
  const iat = now();
  return signJws(
    { alg, kid: key.publicJwk.kid, typ: 'oauth-authz-req+jwt' },
    {
      ...params,
      iss: client.id,
      aud: world.server.issuer,
      iat,
      nbf: iat,
      exp: iat + 60,
      jti: randomUUID(),
    },
    key.privateKey,
    signAs,
  );
}
