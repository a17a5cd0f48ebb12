// fapi2-security-profile-final-refresh-token: a FAPI 2.0 client's refresh token works with its
// client authentication and a DPoP proof, is not rotated away (§5.3.2.1: the earlier one keeps
// working), is bound to its client, and is refused without client authentication or DPoP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertError, send, tokenRows } from '../support/fapi.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  introspect,
  SETUPS,
  seedWorld,
  token,
  tokensFor,
  VAULT,
  type World,
} from './thirdParty.ts';

const INVALID_GRANT = { error: 'invalid_grant', error_description: 'grant request is invalid' };

for (const setup of SETUPS) {
  describe(`FAPI 2.0 Security Profile: refresh tokens (${setup.name})`, () => {
    let server: TestServer;
    let w: World;
    before(async () => {
      server = await startTestServer({ env: setup.env });
      w = await seedWorld(server, { fapi2: setup.fapi2 });
    });
    after(() => server.close());

    const refreshForm = (refresh_token: string) => ({
      grant_type: 'refresh_token',
      refresh_token,
      resource: VAULT,
    });
    const tokens = () => tokenRows(server, w.client.id);

    test('fapi2-security-profile-final-refresh-token: refreshed with DPoP, and the earlier token keeps working', async () => {
      const first = await tokensFor(w);
      assert.ok(first.refresh_token, 'a refresh token');
      const refreshed = await token(w, refreshForm(first.refresh_token!));
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.equal(refreshed.body.token_type, 'DPoP');
      assert.equal((await introspect(w, refreshed.body.access_token)).active, true);
      // Not rotated: the same token comes back, or the earlier one still works.
      const again = await token(w, refreshForm(first.refresh_token!));
      assert.equal(
        again.status,
        200,
        `the earlier refresh token still works: ${JSON.stringify(again.body)}`,
      );
      assert.equal((await introspect(w, first.access_token)).active, true, 'nothing was revoked');
    });

    test('fapi2-security-profile-final-refresh-token: another client cannot use it', async () => {
      const { refresh_token } = await tokensFor(w);
      const before = [await tokens(), await tokenRows(server, w.other.id)];
      const r = await token(w, refreshForm(refresh_token!), { client: w.other });
      assert.deepEqual({ status: r.status, body: r.body }, { status: 400, body: INVALID_GRANT });
      assert.deepEqual([await tokens(), await tokenRows(server, w.other.id)], before, 'no token');
    });

    test('fapi2-security-profile-final-refresh-token: refused without client authentication', async () => {
      const { refresh_token } = await tokensFor(w);
      const before = await tokens();
      const r = await send(server, '/token', {
        ...refreshForm(refresh_token!),
        client_id: w.client.id,
      });
      assertError(r, 401, 'invalid_client', 'client authentication failed');
      assert.equal(await tokens(), before, 'no token');
    });

    test('fapi2-security-profile-final-refresh-token: refused without a DPoP proof', async () => {
      const { refresh_token } = await tokensFor(w);
      const before = await tokens();
      const r = await token(w, refreshForm(refresh_token!), { dpop: null });
      assertError(r, 400, 'invalid_grant', 'grant request is invalid');
      assert.equal(await tokens(), before, 'no token');
    });
  });
}
