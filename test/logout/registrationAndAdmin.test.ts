// Logout URIs through dynamic registration (RFC 7591) and the admin API: accepted, shown, always
// with sid (`*_session_required: true`); an http URI off loopback is refused in each format with
// nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminApi } from '../admin/helpers.ts';
import { BANK_API, REDIRECT_URI, seedBank } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const REGISTRATION = {
  client_name: 'Partner app',
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code'],
  token_endpoint_auth_method: 'client_secret_basic',
  backchannel_logout_uri: 'https://partner.example/backchannel',
  frontchannel_logout_uri: 'https://partner.example/frontchannel',
};

describe('logout URIs in registration and the admin API', () => {
  let server: TestServer;
  let api: ReturnType<typeof adminApi>;
  let adminToken: string;
  const clientCount = async () => (await server.app.services.clients.list()).length;

  const register = async (body: unknown) => {
    const iat = (
      await api.call('POST', '/initial-access-tokens', {
        token: adminToken,
        body: { description: 'Partner', apiAccess: { [BANK_API]: ['accounts:read'] } },
      })
    ).body as { token: string };
    const res = await fetch(server.url('/reg'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${iat.token}` },
      body: JSON.stringify(body),
    });
    // biome-ignore lint/suspicious/noExplicitAny: RFC 7591 responses
    return { status: res.status, body: (await res.json()) as any };
  };

  before(async () => {
    server = await startTestServer();
    api = adminApi(server);
    await seedBank(server);
    adminToken = await api.machineToken(['admin:clients']);
  });
  after(() => server.close());

  test('a client registers its logout URIs itself', async () => {
    const registered = await register(REGISTRATION);
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    assert.equal(registered.body.backchannel_logout_uri, 'https://partner.example/backchannel');
    assert.equal(registered.body.backchannel_logout_session_required, true);
    assert.equal(registered.body.frontchannel_logout_uri, 'https://partner.example/frontchannel');
    assert.equal(registered.body.frontchannel_logout_session_required, true);
    const view = await server.app.services.clients.get(registered.body.client_id);
    assert.equal(view?.backchannelLogoutUri, 'https://partner.example/backchannel');
    assert.equal(view?.frontchannelLogoutUri, 'https://partner.example/frontchannel');
  });

  test('registration refuses an http back-channel URI off loopback, writing nothing', async () => {
    const before = await clientCount();
    const refused = await register({
      ...REGISTRATION,
      backchannel_logout_uri: 'http://partner.example/backchannel',
    });
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, {
      error: 'invalid_client_metadata',
      error_description:
        'backchannel_logout_uri: the logout URI http://partner.example/backchannel must use https (http is allowed only on loopback)',
    });
    assert.equal(await clientCount(), before);
  });

  test('the admin API creates, shows and refuses logout URIs', async () => {
    const body = {
      name: 'Shop',
      grantTypes: ['authorization_code'],
      redirectUris: ['https://shop.example/cb'],
      backchannelLogoutUri: 'https://shop.example/backchannel',
    };
    const created = await api.call('POST', '/clients', { token: adminToken, body });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.client.backchannelLogoutUri, 'https://shop.example/backchannel');
    assert.equal(created.body.client.frontchannelLogoutUri, null);

    const before = await clientCount();
    const refused = await api.call('POST', '/clients', {
      token: adminToken,
      body: { ...body, frontchannelLogoutUri: 'https://shop.example/fc#x' },
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.headers.get('content-type'), 'application/problem+json');
    assert.match(
      refused.body.detail,
      /the logout URI https:\/\/shop\.example\/fc#x must be absolute and have no fragment/,
    );
    assert.equal(await clientCount(), before);
  });
});
