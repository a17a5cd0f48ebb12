// Helpers for admin API tests: tokens from the real token endpoint (client credentials with
// openid-client), a person's level-2 login over HTTP, forged tokens signed with the server's own
// key (for the checks the token endpoint never lets through), and calls to the API.
import assert from 'node:assert/strict';
import { importJWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import { ADMIN_SCOPES, type AdminScope, adminApiIdentifier } from '../../src/admin/adminApi.ts';
import { authorizationUrl, HttpBrowser, type Page, pkce } from '../support/browserless.ts';
import type { TestServer } from '../support/server.ts';

export const ADMIN_REDIRECT = 'https://console.example/callback';

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes
  body: any;
}

export function adminApi(server: TestServer) {
  const audience = adminApiIdentifier(server.issuer);

  /** A client allowed only `scopes` of the admin API (created directly, like an operator would). */
  async function machineClient(scopes: readonly AdminScope[], name = 'Automation') {
    const { client, secret } = await server.app.services.clients.create({
      name,
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [audience]: [...scopes] },
    });
    return { id: client.clientId, secret: secret! };
  }

  /** An access token for the admin API from the token endpoint, with openid-client. */
  async function machineToken(scopes: readonly AdminScope[] = ADMIN_SCOPES): Promise<string> {
    const client = await machineClient(scopes);
    return tokenFor(client);
  }

  async function tokenFor(client: { id: string; secret: string }): Promise<string> {
    const config = await oidc.discovery(
      new URL(server.issuer),
      client.id,
      {},
      oidc.ClientSecretBasic(client.secret),
      { execute: [oidc.allowInsecureRequests] },
    );
    const tokens = await oidc.clientCredentialsGrant(config, { resource: audience });
    return tokens.access_token;
  }

  async function call(
    method: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const res = await fetch(server.url(`/admin/v1${path}`), {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      body:
        options.body === undefined
          ? undefined
          : typeof options.body === 'string'
            ? options.body
            : JSON.stringify(options.body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }

  /** A token signed with the server's active key, with any claims (for defence-in-depth checks). */
  async function forge(
    claims: Record<string, unknown>,
    header: Record<string, unknown> = {},
  ): Promise<string> {
    const jwk = server.app.oidc.ring.jwks[0]!;
    const key = await importJWK(jwk, jwk.alg);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: server.issuer, aud: audience, iat: now, exp: now + 300, ...claims })
      .setProtectedHeader({ alg: jwk.alg!, kid: jwk.kid, typ: 'at+jwt', ...header })
      .sign(key);
  }

  return { audience, machineClient, machineToken, tokenFor, call, forge };
}

/** Asserts a problem+json reply with this status and type suffix. */
export function assertProblem(reply: Reply, status: number, kind: string, detail?: string) {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assert.match(reply.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(reply.body.type, `urn:portcullis:problem:${kind}`);
  assert.equal(reply.body.status, status);
  if (detail !== undefined) assert.equal(reply.body.detail, detail);
}

/** A person's browser login at level 2 (password + TOTP) for the admin API; returns the tokens. */
export async function personLogin(
  server: TestServer,
  o: {
    clientId: string;
    clientSecret: string;
    email: string;
    password: string;
    totpSecret?: string;
    scope: string;
  },
): Promise<{ tokens?: oidc.TokenEndpointResponse; page: Page }> {
  const audience = adminApiIdentifier(server.issuer);
  const browser = new HttpBrowser();
  const { verifier, challenge } = pkce();
  const start = authorizationUrl({
    issuer: server.issuer,
    clientId: o.clientId,
    redirectUri: ADMIN_REDIRECT,
    scope: `openid ${o.scope}`,
    resource: audience,
    challenge,
    state: 'st',
  });
  let page = await browser.open(start, server.issuer);
  page = await browser.submit(
    page,
    /\/login$/,
    { email: o.email, password: o.password },
    server.issuer,
  );
  if (o.totpSecret && page.html.includes('/totp"')) {
    // The step after the one the enrolment used: each TOTP step is accepted once.
    const code = generateSync({ secret: o.totpSecret, epoch: Math.floor(Date.now() / 1000) + 30 });
    page = await browser.submit(page, /\/totp$/, { code }, server.issuer);
  }
  if (!page.location?.startsWith(ADMIN_REDIRECT)) return { page };
  const config = await oidc.discovery(
    new URL(server.issuer),
    o.clientId,
    { redirect_uris: [ADMIN_REDIRECT] },
    oidc.ClientSecretBasic(o.clientSecret),
    { execute: [oidc.allowInsecureRequests] },
  );
  const tokens = await oidc.authorizationCodeGrant(
    config,
    new URL(page.location),
    { pkceCodeVerifier: verifier, expectedState: 'st' },
    { resource: audience },
  );
  return { tokens, page };
}

/** Enrols a TOTP authenticator for a user directly (as if done on the account page). */
export async function enrolTotp(server: TestServer, user: { id: string; email: string }) {
  const { totp } = server.app.services;
  const { enrolmentId, secret } = await totp.startEnrolment(user);
  const code = generateSync({ secret, epoch: Math.floor(Date.now() / 1000) });
  assert.ok(await totp.confirmEnrolment(user.id, enrolmentId, code));
  return secret;
}
