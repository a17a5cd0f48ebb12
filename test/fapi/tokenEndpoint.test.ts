// The FAPI 2.0 Security Profile test plan's token endpoint and private_key_jwt modules: a code is
// bound to its client and single use (a reuse revokes what it gave), and client assertions are
// refused when expired, for another audience, without sub, replayed or signed with RS256 or none.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertError,
  assertionFields,
  clientAssertion,
  type JwtOverrides,
  now,
  tokenRows,
} from '../support/fapi.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  codeFor,
  introspect,
  redeemForm,
  SETUPS,
  seedWorld,
  token,
  VAULT,
  type World,
} from './thirdParty.ts';

const INVALID_GRANT = { error: 'invalid_grant', error_description: 'grant request is invalid' };

for (const setup of SETUPS) {
  describe(`FAPI 2.0 Security Profile: the token endpoint (${setup.name})`, () => {
    let server: TestServer;
    let w: World;
    before(async () => {
      server = await startTestServer({ env: setup.env });
      w = await seedWorld(server, { fapi2: setup.fapi2 });
    });
    after(() => server.close());

    const allTokens = async () => [
      await tokenRows(server, w.client.id),
      await tokenRows(server, w.other.id),
    ];

    test('fapi2-security-profile-final-ensure-authorization-code-is-bound-to-client: another client cannot redeem it', async () => {
      const { code, verifier } = await codeFor(w);
      const before = await allTokens();
      const r = await token(w, redeemForm(code, verifier), { client: w.other });
      assert.deepEqual({ status: r.status, body: r.body }, { status: 400, body: INVALID_GRANT });
      assert.deepEqual(await allTokens(), before, 'no token for either client');
    });

    test('fapi2-security-profile-final-attempt-reuse-authorization-code-after-one-second: refused, and the first tokens are revoked', async () => {
      const { code, verifier } = await codeFor(w, { newSession: true });
      const before = await tokenRows(server, w.client.id);
      const first = await token(w, redeemForm(code, verifier));
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const { access_token, refresh_token } = first.body;
      assert.equal((await introspect(w, access_token)).active, true);
      await new Promise((r) => setTimeout(r, 1000));

      const again = await token(w, redeemForm(code, verifier));
      assert.deepEqual(
        { status: again.status, body: again.body },
        { status: 400, body: INVALID_GRANT },
      );
      assert.deepEqual(
        await introspect(w, access_token),
        { active: false },
        'access token revoked',
      );
      assert.deepEqual(
        await introspect(w, refresh_token),
        { active: false },
        'refresh token revoked',
      );
      const refreshed = await token(w, {
        grant_type: 'refresh_token',
        refresh_token,
        resource: VAULT,
      });
      assert.deepEqual(
        { status: refreshed.status, body: refreshed.body },
        { status: 400, body: INVALID_GRANT },
      );
      assert.equal(await tokenRows(server, w.client.id), before, 'none of its tokens is left');
    });

    test('fapi2-security-profile-final-ensure-client-id-in-token-endpoint: the other client’s id, asserted with this client’s key, is refused', async () => {
      const { code, verifier } = await codeFor(w);
      const before = await allTokens();
      const assertion = clientAssertion(w.client.key, w.other.id, server.issuer);
      const r = await token(w, redeemForm(code, verifier), {
        authFields: assertionFields(w.other.id, assertion),
      });
      assertError(r, 401, 'invalid_client', 'client authentication failed');
      assert.deepEqual(await allTokens(), before, 'no token');
    });

    test('a client_id in the body other than the assertion’s is refused', async () => {
      const { code, verifier } = await codeFor(w);
      const before = await allTokens();
      const assertion = clientAssertion(w.client.key, w.client.id, server.issuer);
      const r = await token(w, redeemForm(code, verifier), {
        authFields: { ...assertionFields(w.client.id, assertion), client_id: w.other.id },
      });
      assertError(r, 400, 'invalid_request', 'client_id mismatch');
      assert.deepEqual(await allTokens(), before, 'no token');
    });

    /** A token request for a fresh code, authenticated with an assertion changed by `o`. */
    async function redeemWith(audience: unknown, o: JwtOverrides, key = w.client.key) {
      const { code, verifier } = await codeFor(w);
      const before = await allTokens();
      const assertion = clientAssertion(key, w.client.id, audience, o);
      const r = await token(w, redeemForm(code, verifier), {
        authFields: assertionFields(w.client.id, assertion),
      });
      assert.deepEqual(await allTokens(), before, 'no token');
      return { r, code, verifier };
    }

    const refusedClient = (r: Awaited<ReturnType<typeof redeemWith>>['r']) =>
      assertError(r, 401, 'invalid_client', 'client authentication failed');

    test('fapi2-security-profile-final-ensure-client-assertion-with-exp-is-5-minutes-in-past-fails', async () => {
      const past = now() - 360;
      refusedClient((await redeemWith(server.issuer, { claims: { iat: past, exp: past + 60 } })).r);
    });

    test('fapi2-security-profile-final-ensure-client-assertion-with-wrong-aud-fails', async () => {
      refusedClient((await redeemWith('https://somewhere.else.example', {})).r);
    });

    test('fapi2-security-profile-final-ensure-client-assertion-with-no-sub-fails', async () => {
      refusedClient((await redeemWith(server.issuer, { claims: { sub: undefined } })).r);
    });

    test('fapi2-security-profile-final-ensure-signed-client-assertion-with-RS256-fails (with a registered RSA key)', async () => {
      refusedClient((await redeemWith(server.issuer, { signAs: 'RS256' }, w.client.rsa)).r);
    });

    /** A token request for a fresh code, authenticated with `assertion`. */
    async function redeemSigned(assertion: string) {
      const { code, verifier } = await codeFor(w);
      return token(w, redeemForm(code, verifier), {
        authFields: assertionFields(w.client.id, assertion),
      });
    }

    test('a client assertion signed with PS256 by the registered RSA key is accepted', async () => {
      const r = await redeemSigned(clientAssertion(w.client.rsa, w.client.id, server.issuer));
      assert.equal(r.status, 200, JSON.stringify(r.body));
    });

    test('a client assertion with alg none is refused', async () => {
      refusedClient((await redeemWith(server.issuer, { signAs: 'none' })).r);
    });

    test('a client assertion with a bad signature is refused', async () => {
      refusedClient((await redeemWith(server.issuer, {}, w.other.key)).r);
    });

    test('a client assertion used twice is refused the second time', async () => {
      const { code, verifier } = await codeFor(w);
      const assertion = clientAssertion(w.client.key, w.client.id, server.issuer);
      const fields = assertionFields(w.client.id, assertion);
      const first = await token(w, redeemForm(code, verifier), { authFields: fields });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const second = await codeFor(w);
      const before = await allTokens();
      const r = await token(w, redeemForm(second.code, second.verifier), { authFields: fields });
      assertError(r, 401, 'invalid_client', 'client authentication failed');
      assert.deepEqual(await allTokens(), before, 'no token');
    });

    test('an assertion with nbf 8 s ahead is accepted at the token endpoint; over 60 s ahead refused', async () => {
      const soon = now() + 8;
      const ok = await redeemSigned(
        clientAssertion(w.client.key, w.client.id, server.issuer, {
          claims: { iat: soon, nbf: soon, exp: soon + 60 },
        }),
      );
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const late = now() + 61;
      refusedClient(
        (await redeemWith(server.issuer, { claims: { iat: late, nbf: late, exp: late + 60 } })).r,
      );
    });
  });
}
