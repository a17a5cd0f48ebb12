// The negatives of the FAPI 2.0 Security Profile test plan that only the fapi2 profile makes (a
// client of the default profile may do each of these, as the control at the end shows): a plain
// authorization request, a token without DPoP, a client secret, client assertions whose aud is an
// array or an endpoint URL. Run for a fapi2 client and for every client under FAPI_PROFILE=2.0.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authorizationUrl, HttpBrowser, pkce } from '../support/browserless.ts';
import {
  assertError,
  assertionFields,
  clientAssertion,
  type Reply,
  send,
  tokenRows,
} from '../support/fapi.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  codeFor,
  createClient,
  type FapiClient,
  push,
  REDIRECT,
  redeemForm,
  SCOPE,
  SETUPS,
  seedWorld,
  token,
  VAULT,
  type World,
} from './thirdParty.ts';

/** The audiences the profile refuses (only the issuer, as a string, is right). */
const WRONG_AUDIENCES: [module: string, label: string, audience: (s: TestServer) => unknown][] = [
  ['fapi2-security-profile-final-par-test-array-as-audience-fails', 'an array', (s) => [s.issuer]],
  [
    'fapi2-security-profile-final-par-test-par-endpoint-url-as-audience-fails',
    'the PAR endpoint',
    (s) => s.url('/request'),
  ],
  [
    'fapi2-security-profile-final-par-test-token-endpoint-url-as-audience-fails',
    'the token endpoint',
    (s) => s.url('/token'),
  ],
];

/** A plain (not pushed) authorization request of `client`: where it ends. */
async function plainRequest(w: World, client: FapiClient) {
  const { challenge } = pkce();
  const url = authorizationUrl({
    issuer: w.server.issuer,
    clientId: client.id,
    redirectUri: REDIRECT,
    scope: SCOPE,
    resource: VAULT,
    challenge,
    state: 'plain',
  });
  return new HttpBrowser().request(url);
}

for (const setup of SETUPS) {
  describe(`FAPI 2.0 Security Profile, what only the profile refuses: ${setup.name}`, () => {
    let server: TestServer;
    let w: World;
    before(async () => {
      server = await startTestServer({ env: setup.env });
      w = await seedWorld(server, { fapi2: setup.fapi2 });
    });
    after(() => server.close());

    const tokens = () => tokenRows(server, w.client.id);
    const pars = () => tokenRows(server, w.client.id, ['PushedAuthorizationRequest']);

    test('fapi2-security-profile-final-ensure-unsigned-authorization-request-without-using-par-fails', async () => {
      const codes = await tokenRows(server, w.client.id, ['AuthorizationCode', 'Interaction']);
      const page = await plainRequest(w, w.client);
      const target = new URL(page.location ?? server.issuer);
      assert.equal(page.status, 303, page.html.slice(0, 300));
      assert.equal(`${target.origin}${target.pathname}`, REDIRECT);
      assert.equal(target.searchParams.get('error'), 'invalid_request');
      assert.equal(
        target.searchParams.get('error_description'),
        'Pushed Authorization Request must be used',
      );
      assert.equal(target.searchParams.get('code'), null);
      assert.equal(
        await tokenRows(server, w.client.id, ['AuthorizationCode', 'Interaction']),
        codes,
        'no interaction, no code',
      );
    });

    test('fapi2-security-profile-final-ensure-holder-of-key-required: a token request without DPoP is refused', async () => {
      const { code, verifier } = await codeFor(w);
      const before = await tokens();
      const r = await token(w, redeemForm(code, verifier), { dpop: null });
      assertError(r, 400, 'invalid_grant', 'grant request is invalid');
      assert.equal(await tokens(), before, 'no token');
      // Refused before the code is consumed: with a proof it still works.
      const proven = await token(w, redeemForm(code, verifier));
      assert.equal(proven.status, 200, JSON.stringify(proven.body));
    });

    test('a client secret is refused at the token endpoint', async () => {
      const { code, verifier } = await codeFor(w);
      const before = await tokens();
      const basic = Buffer.from(`${w.client.id}:not-a-secret`).toString('base64');
      const r: Reply = await send(server, '/token', redeemForm(code, verifier), {
        headers: { authorization: `Basic ${basic}` },
      });
      assertError(r, 401, 'invalid_client', 'client authentication failed');
      assert.equal(await tokens(), before, 'no token');
    });

    test('a client with a secret cannot be registered', async () => {
      await assert.rejects(
        server.app.services.clients.create({
          name: 'Secret keeper',
          grantTypes: ['authorization_code'],
          redirectUris: [REDIRECT],
          authMethod: 'client_secret_basic',
          apiAccess: { [VAULT]: ['vault:read'] },
          ...(setup.fapi2 ? { profile: 'fapi2' as const } : {}),
        }),
        (e: { code?: string; field?: string }) =>
          e.code === 'invalid_input' && e.field === 'authMethod',
      );
    });

    for (const [module, label, audience] of WRONG_AUDIENCES) {
      test(`${module}: a client assertion for ${label} is refused at PAR`, async () => {
        const before = await pars();
        const assertion = clientAssertion(w.client.key, w.client.id, audience(server));
        const pushed = await push(w, { authFields: assertionFields(w.client.id, assertion) });
        assertError(pushed.reply, 401, 'invalid_client', 'client authentication failed');
        assert.equal(await pars(), before, 'no request_uri');
      });

      test(`a client assertion for ${label} is refused at the token endpoint`, async () => {
        const { code, verifier } = await codeFor(w);
        const before = await tokens();
        const assertion = clientAssertion(w.client.key, w.client.id, audience(server));
        const r = await token(w, redeemForm(code, verifier), {
          authFields: assertionFields(w.client.id, assertion),
        });
        assertError(r, 401, 'invalid_client', 'client authentication failed');
        assert.equal(await tokens(), before, 'no token');
      });
    }
  });
}

describe('control: a client of the default profile may still do what fapi2 refuses', () => {
  let server: TestServer;
  let w: World;
  let plain: FapiClient;
  before(async () => {
    server = await startTestServer();
    w = await seedWorld(server, { fapi2: true });
    plain = await createClient(server, 'Ordinary client', {});
  });
  after(() => server.close());

  test('a plain authorization request goes to sign-in', async () => {
    const page = await plainRequest(w, plain);
    assert.equal(page.status, 303);
    assert.match(page.location ?? '', /\/interaction\//);
  });

  test('an array aud or the PAR endpoint as aud authenticates, and a token comes without DPoP', async () => {
    for (const audience of [[server.issuer], server.url('/request')]) {
      const assertion = clientAssertion(plain.key, plain.id, audience);
      const pushed = await push(w, {
        client: plain,
        authFields: assertionFields(plain.id, assertion),
      });
      assert.equal(pushed.reply.status, 201, JSON.stringify(pushed.reply.body));
    }
    const { code, verifier } = await codeFor(w, { client: plain });
    const r = await token(w, redeemForm(code, verifier), { client: plain, dpop: null });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.token_type, 'Bearer');
  });
});
