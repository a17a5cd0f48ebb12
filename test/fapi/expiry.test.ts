// The FAPI 2.0 Security Profile test plan's expiry modules on the injected clock: a request_uri and
// an authorization code live 60 s (the provider's own exp says so), and once that time has passed on
// the clock they are gone and refused. CLOCK_TOLERANCE_SECONDS=0 makes the sweep cut at expiry itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../../src/clock.ts';
import { hashId } from '../../src/oidc/adapter.ts';
import { assertError, signInAt, tokenRows } from '../support/fapi.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  authorizeUrl,
  codeFor,
  push,
  redeemForm,
  SETUPS,
  seedWorld,
  token,
  type World,
} from './thirdParty.ts';

for (const setup of SETUPS) {
  describe(`FAPI 2.0 Security Profile: expired request_uri and code (${setup.name})`, () => {
    // Set when this setup's server starts, not when the file loads: the client's assertions are
    // signed on real time, and a clock left behind would make them look future-dated.
    let clock: ReturnType<typeof manualClock>;
    let server: TestServer;
    let w: World;
    before(async () => {
      clock = manualClock(Date.now());
      server = await startTestServer({
        clock,
        env: { ...setup.env, CLOCK_TOLERANCE_SECONDS: '0' },
      });
      w = await seedWorld(server, { fapi2: setup.fapi2 });
    });
    after(() => server.close());

    const stored = (model: string, id: string) =>
      server.db
        .knex('oidc_artifacts')
        .where({ model, id: hashId(id) })
        .first('payload');

    test('fapi2-security-profile-final-par-attempt-to-use-expired-request_uri', async () => {
      const pushed = await push(w);
      assert.equal(pushed.reply.body.expires_in, 60, 'a request_uri lives 60 s');
      const id = pushed.requestUri!.split(':').pop()!;
      const { payload } = await stored('PushedAuthorizationRequest', id);
      assert.equal(payload.exp - payload.iat, 60);

      clock.advance(59_000);
      await server.app.sweep();
      assert.ok(await stored('PushedAuthorizationRequest', id), 'still there at 59 s');
      clock.advance(2_000);
      await server.app.sweep();
      assert.equal(await stored('PushedAuthorizationRequest', id), undefined, 'gone at 61 s');

      const codes = await tokenRows(server, w.client.id, ['AuthorizationCode']);
      const { page, redirect } = await signInAt(
        server,
        authorizeUrl(w, w.client.id, pushed.requestUri!),
        w.person.email,
      );
      assert.equal(redirect, undefined);
      assert.equal(page.status, 400);
      assert.match(page.html, /<code>invalid_request_uri<\/code>/);
      assert.match(page.html, /request_uri is invalid, expired, or was already used/);
      assert.equal(await tokenRows(server, w.client.id, ['AuthorizationCode']), codes, 'no code');
    });

    test('fapi2-security-profile-final-ensure-token-endpoint-fails-with-expired-auth-code', async () => {
      const { code, verifier } = await codeFor(w);
      const { payload } = await stored('AuthorizationCode', code);
      assert.equal(payload.exp - payload.iat, 60, 'a code lives 60 s (FAPI 2.0 §5.3.2.1)');

      clock.advance(59_000);
      await server.app.sweep();
      assert.ok(await stored('AuthorizationCode', code), 'still there at 59 s');
      clock.advance(2_000);
      await server.app.sweep();

      const before = await tokenRows(server, w.client.id);
      const r = await token(w, redeemForm(code, verifier));
      assertError(r, 400, 'invalid_grant', 'grant request is invalid');
      assert.equal(await tokenRows(server, w.client.id), before, 'no token');
    });

    test('a code past the exp the provider stored is refused before any sweep', async () => {
      // What waiting does to the provider's own check (it reads the real time): exp moved back.
      const storedWith = async (exp: number) => {
        const issued = await codeFor(w);
        await server.db
          .knex('oidc_artifacts')
          .where({ model: 'AuthorizationCode', id: hashId(issued.code) })
          .update({
            payload: server.db.knex.raw("jsonb_set(payload, '{exp}', to_jsonb(?::bigint))", [exp]),
          });
        return issued;
      };
      const seconds = () => Math.floor(Date.now() / 1000);
      const live = await storedWith(seconds() + 30);
      assert.equal((await token(w, redeemForm(live.code, live.verifier))).status, 200, 'control');

      const { code, verifier } = await storedWith(seconds() - 1);
      const before = await tokenRows(server, w.client.id);
      const r = await token(w, redeemForm(code, verifier));
      assertError(r, 400, 'invalid_grant', 'grant request is invalid');
      assert.equal(await tokenRows(server, w.client.id), before, 'no token');
    });
  });
}
