// The request-object modules of the OpenID Foundation's fapi2-message-signing-final test plan (JAR
// at PAR): each refusal asserts the exact error and that nothing was stored (request_uri, code, token).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  asForm,
  authorizationParams,
  createSigningClient,
  push,
  type Reply,
  redirectedTo,
  requestClaims,
  SIGNING_REDIRECT,
  type SigningBank,
  type SigningClient,
  seedSigningBank,
  signInAt,
  signRequest,
  storedArtifacts,
  unsecuredRequest,
} from './signing.ts';

const now = () => Math.floor(Date.now() / 1000);

describe('FAPI 2.0 Message Signing: signed request objects at the PAR endpoint', () => {
  let server: TestServer;
  let bank: SigningBank;

  before(async () => {
    server = await startTestServer();
    bank = await seedSigningBank(server);
  });
  after(() => server.close());

  /** A request object of the signer's ledger request, with claims changed, signed as asked. */
  async function signedRequest(
    changes: Record<string, unknown> = {},
    options: Parameters<typeof signRequest>[2] = {},
    client: SigningClient = bank.signer,
  ) {
    const { params, state, verifier } = authorizationParams(client);
    const claims = requestClaims(client, server.issuer, params, changes);
    return { request: await signRequest(client, claims, options), state, verifier };
  }

  /** The push is refused with exactly `expected`, and nothing is stored. */
  async function refused(
    form: Record<string, string>,
    expected: Reply,
    client: SigningClient = bank.signer,
  ) {
    const before = await storedArtifacts(server);
    const reply = await push(server, client, form);
    assert.deepEqual({ status: reply.status, body: reply.body }, expected);
    assert.deepEqual(await storedArtifacts(server), before, 'nothing was stored');
  }

  const invalidRequestObject = (error_description: string): Reply => ({
    status: 400,
    body: { error: 'invalid_request_object', error_description },
  });

  /** Pushes, signs in with the request_uri, and returns the redirect back to the client. */
  async function pushAndSignIn(form: Record<string, string>, client = bank.signer) {
    const pushed = await push(server, client, form);
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    assert.match(pushed.body.request_uri, /^urn:ietf:params:oauth:request_uri:/);
    assert.ok(pushed.body.expires_in > 0 && pushed.body.expires_in <= 60);
    const query = new URLSearchParams({
      client_id: client.id,
      request_uri: pushed.body.request_uri,
    });
    return redirectedTo(await signInAt(server, bank, server.url(`/auth?${query}`)));
  }

  test('happy flow: a signed request object is pushed and its request_uri signs the person in', async () => {
    const { request, state } = await signedRequest();
    const back = await pushAndSignIn({ request });
    assert.ok(back.searchParams.get('code'), 'a code');
    assert.equal(back.searchParams.get('state'), state);
    assert.equal(back.searchParams.get('iss'), server.issuer);
  });

  test('ensure-request-object-with-multiple-aud-succeeds: an aud array naming the issuer among others', async () => {
    const { request } = await signedRequest({ aud: ['https://other.example', server.issuer] });
    const back = await pushAndSignIn({ request });
    assert.ok(back.searchParams.get('code'));
  });

  test('ensure-request-object-with-nbf-8-seconds-in-the-future-is-accepted', async () => {
    const { request } = await signedRequest({ nbf: now() + 8, exp: now() + 300 });
    assert.equal((await push(server, bank.signer, { request })).status, 201);
  });

  test('state-only-outside-request-object-not-used: parameters outside the request object are ignored', async () => {
    const { request, state } = await signedRequest();
    const back = await pushAndSignIn({ request, state: 'outside', scope: 'openid' });
    assert.equal(back.searchParams.get('state'), state);
  });

  test('ensure-request-object-without-exp-fails', async () => {
    const { request } = await signedRequest({ exp: undefined });
    await refused({ request }, invalidRequestObject("Request Object is missing the 'exp' claim"));
  });

  test('ensure-request-object-without-nbf-fails', async () => {
    const { request } = await signedRequest({ nbf: undefined });
    await refused({ request }, invalidRequestObject("Request Object is missing the 'nbf' claim"));
  });

  test('ensure-request-object-with-exp-over-60-fails: exp more than 60 minutes after nbf', async () => {
    const { request } = await signedRequest({ nbf: now(), exp: now() + 3601 });
    await refused(
      { request },
      invalidRequestObject("Request Object 'exp' claim too far from 'nbf' claim"),
    );
  });

  test('ensure-request-object-with-nbf-over-60-fails: nbf more than 60 minutes in the past', async () => {
    const { request } = await signedRequest({ nbf: now() - 3660, exp: now() + 60 });
    await refused(
      { request },
      invalidRequestObject("Request Object 'exp' claim too far from 'nbf' claim"),
    );
  });

  test('a request object whose nbf is two minutes ahead is not valid yet', async () => {
    const { request } = await signedRequest({ nbf: now() + 120, exp: now() + 300 });
    await refused({ request }, invalidRequestObject('Request Object claims are invalid'));
  });

  test('ensure-expired-request-object-fails', async () => {
    const { request } = await signedRequest({ nbf: now() - 600, exp: now() - 60 });
    await refused({ request }, invalidRequestObject('Request Object claims are invalid'));
  });

  test('ensure-request-object-with-bad-aud-fails', async () => {
    const { request } = await signedRequest({ aud: 'https://other.example' });
    await refused({ request }, invalidRequestObject('Request Object claims are invalid'));
  });

  test('a request object without aud fails', async () => {
    const { request } = await signedRequest({ aud: undefined });
    await refused({ request }, invalidRequestObject('Request Object claims are invalid'));
  });

  test('a request object issued by another client (iss) fails', async () => {
    const { request } = await signedRequest({ iss: bank.optional.id });
    await refused({ request }, invalidRequestObject('Request Object claims are invalid'));
  });

  test('ensure-request-object-signature-algorithm-is-not-none', async () => {
    const { params } = authorizationParams(bank.signer);
    const request = unsecuredRequest(requestClaims(bank.signer, server.issuer, params));
    await refused({ request }, invalidRequestObject('unsupported signed request alg'));
  });

  test('ensure-signed-request-object-with-RS256-fails', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const { request } = await signedRequest({}, { alg: 'RS256', key: privateKey });
    await refused({ request }, invalidRequestObject('unsupported signed request alg'));
  });

  test('ensure-request-object-with-invalid-signature-fails: signed with a key the client never registered', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const { request } = await signedRequest({}, { key: privateKey });
    await refused({ request }, invalidRequestObject('could not validate Request Object'));
  });

  test('a request object whose signature was cut from another one fails', async () => {
    const { request } = await signedRequest();
    const [header, , signature] = request.split('.');
    const claims = requestClaims(
      bank.signer,
      server.issuer,
      authorizationParams(bank.signer).params,
    );
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    await refused({ request: forged }, invalidRequestObject('could not validate Request Object'));
  });

  test('ensure-request-object-without-redirect-uri-fails', async () => {
    const { request } = await signedRequest({ redirect_uri: undefined });
    await refused(
      { request },
      {
        status: 400,
        body: {
          error: 'invalid_request',
          error_description: "missing required parameter 'redirect_uri'",
        },
      },
    );
  });

  test('ensure-unsigned-request-at-par-endpoint-fails: a client that must sign pushes plain parameters', async () => {
    const { params } = authorizationParams(bank.signer);
    await refused(asForm(params), {
      status: 400,
      body: {
        error: 'invalid_request',
        error_description: 'Request Object must be used by this client',
      },
    });
  });

  test('a client without the requirement may still push plain parameters (as before)', async () => {
    const { params, state } = authorizationParams(bank.optional);
    const form = asForm(params);
    const back = await pushAndSignIn(form, bank.optional);
    assert.equal(back.searchParams.get('state'), state);
  });

  test('a client without the requirement is held to the same rules when it does sign', async () => {
    const { request } = await signedRequest({ exp: undefined }, {}, bank.optional);
    await refused(
      { request },
      invalidRequestObject("Request Object is missing the 'exp' claim"),
      bank.optional,
    );
  });

  describe('at the authorization endpoint', () => {
    /** Opens /auth?query; the request is refused with an error page naming `error`, nothing stored. */
    async function refusedAtAuthorization(query: URLSearchParams, error: string) {
      const before = await storedArtifacts(server);
      const res = await fetch(server.url(`/auth?${query}`), { redirect: 'manual' });
      const html = await res.text();
      assert.equal(res.status, 400, html.slice(0, 300));
      assert.ok(html.includes(error), `the page names ${error}`);
      assert.deepEqual(await storedArtifacts(server), before, 'nothing was stored');
    }

    test('a request object sent by value, not pushed, is refused (request_not_supported)', async () => {
      const { request } = await signedRequest({}, {}, bank.optional);
      await refusedAtAuthorization(
        new URLSearchParams({ client_id: bank.optional.id, request }),
        'request_not_supported',
      );
    });

    /** Plain parameters straight to /auth: redirected back with invalid_request, nothing stored. */
    async function refusedWithoutPar(client: SigningClient, error_description: string) {
      const { params, state } = authorizationParams(client);
      const before = await storedArtifacts(server);
      const query = new URLSearchParams(asForm(params));
      const res = await fetch(server.url(`/auth?${query}`), { redirect: 'manual' });
      const back = new URL(res.headers.get('location') ?? '');
      assert.equal(`${back.origin}${back.pathname}`, SIGNING_REDIRECT);
      assert.deepEqual(Object.fromEntries(back.searchParams), {
        error: 'invalid_request',
        error_description,
        state,
        iss: server.issuer,
      });
      assert.deepEqual(await storedArtifacts(server), before, 'nothing was stored');
    }

    test('ensure-unsigned-authorization-request-without-using-par-fails: a FAPI 2.0 client that must sign', async () => {
      await refusedWithoutPar(bank.signer, 'Pushed Authorization Request must be used');
    });

    test('a client of the default profile that must sign sends plain parameters to /auth', async () => {
      const client = await createSigningClient(server, 'Default signer', true, 'default');
      await refusedWithoutPar(client, 'Request Object must be used by this client');
    });

    test('a request_uri of an outside host is refused (request_uri_not_supported)', async () => {
      await refusedAtAuthorization(
        new URLSearchParams({
          client_id: bank.optional.id,
          request_uri: 'https://attacker.example/request.jwt',
        }),
        'request_uri_not_supported',
      );
    });
  });
});
