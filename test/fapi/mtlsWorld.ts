// The world of the mutual TLS tests, whichever deployment serves it: an API with opaque tokens,
// a customer, and third-party providers that authenticate with certificates (tls_client_auth by
// subject DN or SAN, self_signed_tls_client_auth) and get certificate-bound tokens.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { exportJWK } from 'jose';
import type { HttpBrowser } from '../support/browserless.ts';
import type { Identity, TestPki } from '../support/certificates.ts';
import { x5cOf } from '../support/certificates.ts';
import { PASSWORD } from '../support/fixtures.ts';
import type { TestServer } from '../support/server.ts';

export const PAYMENTS = 'https://payments.api.example';
/** An API whose access tokens are JWTs: the binding is in the token itself. */
export const STATEMENTS = 'https://statements.api.example';
export const TPP_REDIRECT = 'https://tpp-one.example/callback';
export const CUSTOMER = 'carol@example.com';

export interface MtlsWorld {
  /** tls_client_auth by subject DN (tppOne's), tokens bound to the certificate; code and client credentials. */
  byDn: string;
  /** tls_client_auth by SAN DNS name (tppOne's), client credentials. */
  bySan: string;
  /** self_signed_tls_client_auth with pki.selfSigned in its JWKS, tokens bound. */
  selfSigned: string;
}

/** The JWK of a certificate's public key, with the certificate as x5c (RFC 8705 §2.2). */
export async function jwkWithCertificate(identity: Identity): Promise<Record<string, unknown>> {
  const cert = new X509Certificate(identity.cert);
  return { ...(await exportJWK(cert.publicKey)), x5c: [x5cOf(identity.cert)] };
}

export async function seedMtlsWorld(server: TestServer, pki: TestPki): Promise<MtlsWorld> {
  const { catalogue, clients, accounts, roles } = server.app.services;
  await catalogue.create({
    identifier: PAYMENTS,
    name: 'Payments',
    tokenFormat: 'opaque',
    accessTokenTtl: 300,
    scopes: [{ name: 'payments:read', description: 'See your payments' }],
  });
  await catalogue.create({
    identifier: STATEMENTS,
    name: 'Statements',
    tokenFormat: 'jwt',
    accessTokenTtl: 300,
    scopes: [{ name: 'statements:read', description: 'See your statements' }],
  });
  await roles.create({ name: 'payer', scopes: ['payments:read'] });
  await accounts.create({ email: CUSTOMER, password: PASSWORD, roles: ['payer'] });
  const apiAccess = { [PAYMENTS]: ['payments:read'] };
  const byDn = await clients.create({
    name: 'Fintech One',
    grantTypes: ['authorization_code', 'client_credentials'],
    redirectUris: [TPP_REDIRECT],
    authMethod: 'tls_client_auth',
    tlsSubject: { kind: 'subject_dn', value: 'CN=tpp-one,O=Fintech One,C=GB' },
    senderConstraint: 'mtls',
    apiAccess,
    firstParty: true,
  });
  const bySan = await clients.create({
    name: 'Fintech One batch',
    grantTypes: ['client_credentials'],
    authMethod: 'tls_client_auth',
    tlsSubject: { kind: 'san_dns', value: 'tpp-one.example' },
    apiAccess,
  });
  const selfSigned = await clients.create({
    name: 'Self-signed provider',
    grantTypes: ['client_credentials'],
    authMethod: 'self_signed_tls_client_auth',
    jwks: { keys: [await jwkWithCertificate(pki.selfSigned)] },
    senderConstraint: 'mtls',
    apiAccess: { ...apiAccess, [STATEMENTS]: ['statements:read'] },
  });
  return {
    byDn: byDn.client.clientId,
    bySan: bySan.client.clientId,
    selfSigned: selfSigned.client.clientId,
  };
}

export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of several endpoints
  body: any;
}

export async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: res.status, body };
}

/** A form POST with the client id in the body (how mTLS clients authenticate: RFC 8705 §2). */
export const postForm = async (send: typeof fetch, url: string, form: Record<string, string>) =>
  reply(await send(url, { method: 'POST', body: new URLSearchParams(form) }));

/** A client credentials token request for the payments API. */
export const clientCredentials = (send: typeof fetch, tokenUrl: string, clientId: string) =>
  postForm(send, tokenUrl, {
    grant_type: 'client_credentials',
    client_id: clientId,
    scope: 'payments:read',
    resource: PAYMENTS,
  });

/** Access and refresh tokens issued to a client so far (rows of oidc_artifacts). */
export async function tokensOf(server: TestServer, clientId: string): Promise<number> {
  const row = await server.db
    .knex('oidc_artifacts')
    .whereIn('model', ['AccessToken', 'ClientCredentials', 'RefreshToken'])
    .whereRaw("payload->>'clientId' = ?", [clientId])
    .count('* as n')
    .first();
  return Number(row?.n ?? 0);
}

/** RFC 8705 §3.1: the base64url SHA-256 of the certificate's DER. */
export const thumbprintOf = (identity: Identity) =>
  Buffer.from(
    new X509Certificate(identity.cert).fingerprint256.replaceAll(':', ''),
    'hex',
  ).toString('base64url');

export const INVALID_CLIENT = {
  error: 'invalid_client',
  error_description: 'client authentication failed',
};

/** Sends a request, asserts its exact refusal and that the client holds no more tokens than before. */
export async function assertRefusedWithoutToken(
  server: TestServer,
  clientId: string,
  send: () => Promise<Reply>,
  status: number,
  body: Record<string, string>,
): Promise<void> {
  const before = await tokensOf(server, clientId);
  const got = await send();
  assert.equal(got.status, status, JSON.stringify(got.body));
  assert.deepEqual(got.body, body);
  assert.equal(await tokensOf(server, clientId), before, 'no token was written');
}

/** Signs the customer in at an authorization URL (a PAR one) and returns the redirect back with the code. */
export async function signInAt(browser: HttpBrowser, url: URL, issuer: string): Promise<URL> {
  let page = await browser.open(url.href, issuer);
  if (page.html.includes('/login"'))
    page = await browser.submit(page, /\/login$/, { email: CUSTOMER, password: PASSWORD }, issuer);
  if (page.html.includes('/consent"'))
    page = await browser.submit(page, /\/consent$/, { decision: 'approve' }, issuer);
  assert.ok(
    page.location?.startsWith(TPP_REDIRECT),
    `signed in: ${page.status} ${page.html.slice(0, 300)}`,
  );
  return new URL(page.location ?? '');
}
