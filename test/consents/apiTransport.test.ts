// The consent API beyond Bearer tokens: a DPoP-bound client-credentials token (openid-client's
// DPoP handle) accepted with its proof and refused without; per-client request limits (429); the
// OpenAPI document of the API, valid OpenAPI 3.1.
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import * as oidc from 'openid-client';
import { assertProblem } from '../admin/helpers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { PAYMENTS_API, seedConsentWorld } from './world.ts';

describe('consent API: DPoP, request limits, OpenAPI', () => {
  let server: TestServer;
  let w: Awaited<ReturnType<typeof seedConsentWorld>>;

  before(async () => {
    server = await startTestServer();
    w = await seedConsentWorld(server);
  });
  after(() => server.close());

  test('a DPoP-bound token works with a fresh proof; as Bearer, or its proof replayed, 401', async () => {
    const { client, secret } = await server.app.services.clients.create({
      name: 'DPoP engine',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [PAYMENTS_API]: ['payments:execute'] },
      senderConstraint: 'dpop',
    });
    const config = await oidc.discovery(
      new URL(server.issuer),
      client.clientId,
      {},
      oidc.ClientSecretBasic(secret!),
      { execute: [oidc.allowInsecureRequests] },
    );
    const pair = (await webcrypto.subtle.generateKey(
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign', 'verify'],
    )) as webcrypto.CryptoKeyPair;
    const handle = oidc.getDPoPHandle(config, pair);
    const tokens = await oidc.clientCredentialsGrant(
      config,
      { resource: PAYMENTS_API, scope: 'payments:execute' },
      { DPoP: handle },
    );
    assert.equal(tokens.token_type, 'dpop');
    const consent = await w.authorised();
    const url = new URL(server.url(`/consents/${consent.id}/consume`));
    const res = await oidc.fetchProtectedResource(
      config,
      tokens.access_token,
      url,
      'POST',
      undefined,
      undefined,
      { DPoP: handle },
    );
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'consumed');

    const other = await w.authorised();
    const bearer = await w.call('POST', `/consents/${other.id}/consume`, tokens.access_token);
    assertProblem(
      bearer,
      401,
      'invalid_token',
      'a DPoP-bound access token must be sent with the DPoP scheme',
    );
    assert.match(
      bearer.headers.get('www-authenticate') ?? '',
      /^DPoP realm="portcullis-consents", error="invalid_token"/,
    );
    assert.deepEqual(await server.app.services.consents.find(other.id), other);
  });

  test('a client over its request limit: 429 with Retry-After, nothing consumed', async () => {
    const { client, secret } = await server.app.services.clients.create({
      name: 'Busy engine',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [PAYMENTS_API]: ['payments:execute'] },
      rateLimit: { requests: 3, windowSeconds: 3600 },
    });
    // The token request counts too: one of the three.
    const token = await w.tokenFor({ id: client.clientId, secret: secret! }, PAYMENTS_API);
    const consent = await w.authorised();
    assert.equal((await w.call('GET', `/consents/${consent.id}`, token)).status, 200);
    assert.equal((await w.call('GET', `/consents/${consent.id}`, token)).status, 200);
    const limited = await w.call('POST', `/consents/${consent.id}/consume`, token);
    assertProblem(limited, 429, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.deepEqual(await server.app.services.consents.find(consent.id), consent);
  });

  test('the OpenAPI document of the consent API is valid OpenAPI 3.1', async () => {
    const res = await fetch(server.url('/consents/openapi.json'));
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Record<string, Record<string, Record<string, unknown>>>;
    await SwaggerParser.validate(structuredClone(doc) as never);
    assert.ok(doc.paths!['/consents/{id}']!.get);
    assert.ok(doc.paths!['/consents/{id}/consume']!.post);
    assert.deepEqual(Object.keys(doc.components!.schemas!).sort(), ['Consent', 'Problem']);
  });
});
