// The FAPI 2.0 Security Profile test plan's PAR, PKCE and authorization request modules
// (openid-certification/conformance-suite, fapi2spfinal): every request_uri is single use and
// bound to its client, PKCE S256 is required, response_type is code only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HttpBrowser, type Page } from '../support/browserless.ts';
import {
  assertError,
  assertionFields,
  clientAssertion,
  now,
  send,
  signInAt,
  tokenRows,
} from '../support/fapi.ts';
import { PASSWORD } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  authorizeUrl,
  codeFor,
  push,
  REDIRECT,
  redeemForm,
  refusedPush,
  SETUPS,
  seedWorld,
  token,
  type World,
} from './thirdParty.ts';

/** The error code and message of Portcullis' error page (errors that cannot be redirected). */
function pageError(page: Page) {
  return {
    status: page.status,
    code: /Error code: <code>([^<]+)<\/code>/.exec(page.html)?.[1],
    // The library's description, shown below the person's translated sentence for the developer.
    message: /developer: ([^<]*)</.exec(page.html)?.[1],
  };
}

const USED = {
  status: 400,
  code: 'invalid_request_uri',
  message: 'request_uri is invalid, expired, or was already used',
};

for (const setup of SETUPS) {
  describe(`FAPI 2.0 Security Profile: PAR, PKCE and the authorization request (${setup.name})`, () => {
    let server: TestServer;
    let w: World;
    before(async () => {
      server = await startTestServer({ env: setup.env });
      w = await seedWorld(server, { fapi2: setup.fapi2 });
    });
    after(() => server.close());

    const codes = () => tokenRows(server, w.client.id, ['AuthorizationCode']);
    const tokens = () => tokenRows(server, w.client.id);

    test('fapi2-security-profile-final-par-attempt-reuse-request_uri: a used request_uri is refused', async () => {
      const pushed = await push(w);
      const url = authorizeUrl(w, w.client.id, pushed.requestUri!);
      assert.ok((await signInAt(server, url, w.person.email)).redirect?.searchParams.get('code'));
      const before = await codes();
      const again = await signInAt(server, url, w.person.email);
      assert.deepEqual(pageError(again.page), USED);
      assert.equal(await codes(), before, 'no second code');
    });

    test('fapi2-security-profile-final-par-ensure-reused-request-uri-prior-to-auth-completion-succeeds', async () => {
      const pushed = await push(w);
      const url = authorizeUrl(w, w.client.id, pushed.requestUri!);
      const browser = new HttpBrowser();
      const first = await browser.open(url, server.issuer);
      assert.match(first.html, /autocomplete="current-password"/, 'the sign-in page');
      const { redirect } = await signInAt(server, url, w.person.email, browser);
      assert.ok(redirect?.searchParams.get('code'), 'the reloaded request signs in');
    });

    test('fapi2-security-profile-final-par-attempt-to-use-request_uri-for-different-client', async () => {
      const pushed = await push(w, { client: w.other });
      const before = [await codes(), await tokenRows(server, w.other.id, ['AuthorizationCode'])];
      const { page, redirect } = await signInAt(
        server,
        authorizeUrl(w, w.client.id, pushed.requestUri!),
        w.person.email,
      );
      assert.equal(redirect, undefined, 'no redirect to either client');
      assert.deepEqual(pageError(page), {
        status: 400,
        code: 'invalid_request_object',
        message: 'request client_id must equal the one in request parameters',
      });
      assert.deepEqual(
        [await codes(), await tokenRows(server, w.other.id, ['AuthorizationCode'])],
        before,
      );
    });

    test('fapi2-security-profile-final-par-attempt-invalid-http-method: PAR by GET is refused', async () => {
      const before = await tokenRows(server, w.client.id, ['PushedAuthorizationRequest']);
      const pushed = await push(w, { method: 'GET' });
      assert.equal(pushed.reply.status, 405, JSON.stringify(pushed.reply.body));
      assert.equal(pushed.requestUri, undefined);
      assert.equal(await tokenRows(server, w.client.id, ['PushedAuthorizationRequest']), before);
    });

    test('fapi2-security-profile-final-par-authorization-request-containing-request_uri-form-param', async () => {
      const first = await push(w);
      const pushed = await refusedPush(w, { params: { request_uri: first.requestUri! } });
      // RFC 9126 §2.1; the suite accepts invalid_request, invalid_request_object or this.
      assert.deepEqual(
        { status: pushed.reply.status, body: pushed.reply.body },
        { status: 400, body: { error: 'request_uri_not_supported' } },
      );
      assert.equal(pushed.requestUri, undefined);
    });

    test('fapi2-security-profile-final-par-ensure-pkce-required: a request without code_challenge is refused', async () => {
      const pushed = await refusedPush(w, {
        params: { code_challenge: undefined, code_challenge_method: undefined },
      });
      assertError(
        pushed.reply,
        400,
        'invalid_request',
        'Authorization Server policy requires PKCE to be used for this request',
      );
    });

    test('fapi2-security-profile-final-par-plain-pkce-rejected', async () => {
      const pushed = await refusedPush(w, {
        params: { code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' },
      });
      assertError(
        pushed.reply,
        400,
        'invalid_request',
        'not supported value of code_challenge_method',
      );
    });

    test('fapi2-security-profile-final-ensure-pkce-code-verifier-required: no verifier, no token', async () => {
      const { code } = await codeFor(w);
      const before = await tokens();
      const { code_verifier: _omitted, ...form } = redeemForm(code, '');
      assertError(await token(w, form), 400, 'invalid_grant', 'grant request is invalid');
      assert.equal(await tokens(), before, 'no token');
    });

    test('fapi2-security-profile-final-incorrect-pkce-code-verifier-rejected', async () => {
      const { code, verifier } = await codeFor(w);
      const before = await tokens();
      const wrong = `${verifier.slice(0, -1)}${verifier.endsWith('A') ? 'B' : 'A'}`;
      assertError(
        await token(w, redeemForm(code, wrong)),
        400,
        'invalid_grant',
        'grant request is invalid',
      );
      assert.equal(await tokens(), before, 'no token');
    });

    for (const responseType of ['code id_token', 'token']) {
      const name = responseType === 'token' ? 'token' : 'code-idtoken';
      test(`fapi2-security-profile-final-ensure-response-type-${name}-fails: response_type=${responseType} is refused`, async () => {
        const pushed = await refusedPush(w, {
          params: { response_type: responseType, nonce: 'n' },
        });
        assertError(
          pushed.reply,
          400,
          'unsupported_response_type',
          'unsupported response_type requested',
        );
        assert.equal(pushed.requestUri, undefined);
      });
    }

    test('fapi2-security-profile-final-ensure-redirect-uri-in-authorization-request: PAR without redirect_uri is refused', async () => {
      const pushed = await refusedPush(w, { params: { redirect_uri: undefined } });
      assertError(
        pushed.reply,
        400,
        'invalid_request',
        "missing required parameter 'redirect_uri'",
      );
    });

    test('fapi2-security-profile-final-ensure-registered-redirect-uri: an unregistered redirect_uri is refused', async () => {
      const pushed = await refusedPush(w, { params: { redirect_uri: `${REDIRECT}/elsewhere` } });
      assertError(
        pushed.reply,
        400,
        'invalid_request',
        "redirect_uri did not match any of the client's registered redirect_uris",
      );
    });

    test('fapi2-security-profile-final-par-ensure-jwt-client-assertions-nbf-8-seconds-in-the-future-is-accepted', async () => {
      const ahead = now() + 8;
      const assertion = clientAssertion(w.client.key, w.client.id, server.issuer, {
        claims: { iat: ahead, nbf: ahead, exp: ahead + 60 },
      });
      const pushed = await push(w, { authFields: assertionFields(w.client.id, assertion) });
      assert.equal(pushed.reply.status, 201, JSON.stringify(pushed.reply.body));
    });

    test('fapi2-security-profile-final-par-ensure-jwt-client-assertions-nbf-over-60-seconds-in-the-future-fails', async () => {
      const ahead = now() + 61;
      const assertion = clientAssertion(w.client.key, w.client.id, server.issuer, {
        claims: { iat: ahead, nbf: ahead, exp: ahead + 60 },
      });
      const pushed = await refusedPush(w, { authFields: assertionFields(w.client.id, assertion) });
      assertError(pushed.reply, 401, 'invalid_client', 'client authentication failed');
      assert.equal(pushed.requestUri, undefined);
    });

    test('fapi2-security-profile-final-user-rejects-authentication: access_denied, with iss and state', async () => {
      // The person consented earlier in this file, and a consent once given is remembered: the
      // client asks again (prompt=consent), as a bank's app does before a new decision.
      const pushed = await push(w, { params: { prompt: 'consent' } });
      const browser = new HttpBrowser();
      let page = await browser.open(
        authorizeUrl(w, w.client.id, pushed.requestUri!),
        server.issuer,
      );
      page = await browser.submit(
        page,
        /\/login$/,
        { email: w.person.email, password: PASSWORD },
        server.issuer,
      );
      const before = await codes();
      page = await browser.submit(page, /\/consent$/, { decision: 'deny' }, server.issuer);
      const target = new URL(page.location!);
      assert.equal(`${target.origin}${target.pathname}`, REDIRECT);
      assert.equal(target.searchParams.get('error'), 'access_denied');
      assert.equal(target.searchParams.get('state'), pushed.state);
      assert.equal(target.searchParams.get('iss'), server.issuer);
      assert.equal(target.searchParams.get('code'), null);
      assert.equal(await codes(), before, 'no code');
    });

    test('fapi2-security-profile-final-ensure-authorization-request-without-state-success', async () => {
      const { redirect } = await codeFor(w, { params: { state: undefined } });
      assert.equal(redirect.searchParams.get('state'), null);
    });

    test('fapi2-security-profile-final-ensure-other-scope-order-succeeds', async () => {
      const { code, verifier } = await codeFor(w, { params: { scope: 'vault:read openid' } });
      const r = await token(w, redeemForm(code, verifier));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.scope, 'vault:read');
    });

    test('the authorization endpoint answers a request_uri that was never issued like a used one', async () => {
      const page = (
        await signInAt(
          server,
          authorizeUrl(w, w.client.id, 'urn:ietf:params:oauth:request_uri:never-issued'),
          w.person.email,
        )
      ).page;
      assert.deepEqual(pageError(page), USED);
      assert.equal((await send(server, '/request', {}, { method: 'PUT' })).status, 405);
    });
  });
}
