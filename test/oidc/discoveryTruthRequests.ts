// Checks of test/oidc/discoveryTruth.test.ts for what shapes an authorization request: scopes,
// claims, response modes, PKCE, request objects and PAR, acr values, subjects, and the pages.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import * as oidc from 'openid-client';
import { HttpBrowser } from '../support/browserless.ts';
import { BANK_API } from '../support/fixtures.ts';
import {
  authenticate,
  authorizeParams,
  type Doc,
  post,
  requestObject,
  signIn,
  type World,
} from './discoveryTruthKit.ts';
import { accountAccess, PAYMENT } from './richAuthorizationWorld.ts';

export type Check = (value: unknown, world: World, t: TestContext) => Promise<void>;
const list = (value: unknown) => value as string[];
const url = (value: unknown) => value as string;
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);

/** Where each response mode puts the authorization response, for a signed-in browser. */
const RESPONSE_MODES: Record<
  string,
  { status: number; find: (location: URL | undefined, html: string) => boolean }
> = {
  query: { status: 303, find: (l) => Boolean(l?.searchParams.get('code')) },
  fragment: { status: 303, find: (l) => new URLSearchParams(l?.hash.slice(1)).has('code') },
  form_post: { status: 200, find: (_l, html) => /name="code"/.test(html) },
  jwt: { status: 303, find: (l) => Boolean(l?.searchParams.get('response')) },
  'query.jwt': { status: 303, find: (l) => Boolean(l?.searchParams.get('response')) },
  'fragment.jwt': {
    status: 303,
    find: (l) => new URLSearchParams(l?.hash.slice(1)).has('response'),
  },
  'form_post.jwt': { status: 200, find: (_l, html) => /name="response"/.test(html) },
};

const authUrl = (doc: Doc, params: Record<string, string>) =>
  `${url(doc.authorization_endpoint)}?${new URLSearchParams(params)}`;

export const requestChecks: Record<string, Check> = {
  scopes_supported: async (v, w) => {
    const scopes = list(v);
    const { tokens } = await signIn(
      w,
      { ...w.bank.client, method: 'client_secret_basic' },
      scopes.filter((s) => OIDC_SCOPES.has(s)).join(' '),
      { prompt: 'consent' },
    );
    const granted = new Set(tokens.scope?.split(' '));
    for (const s of scopes.filter((s) => OIDC_SCOPES.has(s)))
      assert.ok(granted.has(s), `${s} granted`);
    const apis = await w.server.app.services.catalogue.list();
    const client = w.byMethod.get('client_secret_basic')!;
    for (const s of scopes.filter((s) => !OIDC_SCOPES.has(s))) {
      const api = apis.find((a) => a.scopes.some((x) => x.name === s));
      assert.ok(api?.public, `${s} belongs to an API marked public`);
      const { headers, fields } = authenticate(w, client, w.server.issuer);
      const r = await post(
        url(w.doc.token_endpoint),
        { ...fields, grant_type: 'client_credentials', resource: api.identifier, scope: s },
        headers,
      );
      assert.equal(r.status, 200, `${s}: ${r.text}`);
      assert.equal(r.body.scope, s);
    }
    // And no scope of an API not marked public (the bank's, the admin API's) is advertised.
    for (const api of apis.filter((a) => !a.public))
      for (const s of api.scopes) assert.ok(!scopes.includes(s.name), `${s.name} is not public`);
    assert.ok(apis.some((a) => a.identifier === BANK_API && !a.public));
  },
  claims_supported: async (v, w) => {
    const { tokens, rp } = await signIn(w, { ...w.bank.client, method: 'client_secret_basic' });
    const idToken = tokens.claims()!;
    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, idToken.sub);
    const seen = new Set([...Object.keys(idToken), ...Object.keys(userinfo)]);
    for (const claim of list(v)) {
      assert.ok(seen.has(claim), `${claim} is in the ID token or UserInfo`);
    }
  },
  claim_types_supported: async (v, w) => {
    assert.deepEqual(v, ['normal'], 'no aggregated or distributed claims');
    const { tokens } = await signIn(w, { ...w.bank.client, method: 'client_secret_basic' });
    assert.equal(tokens.claims()!._claim_names, undefined);
  },
  claims_parameter_supported: async (v, w) => {
    assert.equal(v, true);
    const claims = JSON.stringify({ id_token: { email: { essential: true } } });
    const { tokens } = await signIn(
      w,
      { ...w.bank.client, method: 'client_secret_basic' },
      'openid email',
      {
        claims,
      },
    );
    assert.equal(
      tokens.claims()!.email,
      'alice@example.com',
      'the claim asked for is in the ID token',
    );
  },
  response_modes_supported: async (v, w) => {
    const client = w.byAlg.get('ES256')!;
    const { browser } = await signIn(w, client);
    for (const mode of list(v)) {
      const expected = RESPONSE_MODES[mode];
      assert.ok(expected, `no check for response_mode ${mode}: add one to RESPONSE_MODES`);
      const { params } = authorizeParams(client, { response_mode: mode });
      const page = await browser.request(authUrl(w.doc, params));
      assert.equal(
        page.status,
        expected.status,
        `${mode}: ${page.location ?? page.html.slice(0, 200)}`,
      );
      const location = page.location ? new URL(page.location) : undefined;
      assert.ok(expected.find(location, page.html), `${mode} carries the response`);
    }
  },
  authorization_response_iss_parameter_supported: async (v, w) => {
    assert.equal(v, true);
    const client = w.byAlg.get('ES256')!;
    const { redirect } = await signIn(w, client);
    assert.equal(redirect.searchParams.get('iss'), w.server.issuer);
  },
  code_challenge_methods_supported: async (v, w) => {
    for (const method of list(v))
      assert.equal(method, 'S256', `no check for ${method}: the sign-ins use S256 only`);
    await signIn(w, w.byAlg.get('ES256')!); // with S256
    // No other method is accepted (plain is what a weaker server would take).
    const { params } = authorizeParams(w.byAlg.get('ES256')!, { code_challenge_method: 'plain' });
    const page = await new HttpBrowser().request(authUrl(w.doc, params));
    assert.equal(new URL(page.location!).searchParams.get('error'), 'invalid_request');
  },
  subject_types_supported: async (v, w) => {
    assert.deepEqual(v, ['public']);
    for (const alg of ['ES256', 'RS256']) {
      const { tokens } = await signIn(w, w.byAlg.get(alg)!);
      assert.equal(tokens.claims()!.sub, w.bank.alice.id, 'the same sub for every client');
    }
  },
  acr_values_supported: async (v, w) => {
    for (const acr of list(v)) {
      const { params } = authorizeParams(w.byAlg.get('ES256')!, { acr_values: acr });
      const page = await new HttpBrowser().request(authUrl(w.doc, params));
      assert.equal(page.status, 303, `${acr}: ${page.location}`);
      assert.match(page.location!, /\/interaction\//, `${acr} is asked for, not refused`);
    }
  },
  end_session_endpoint: async (v) => {
    const res = await fetch(url(v), { redirect: 'manual' });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /session\/end\/confirm/);
  },
  registration_endpoint: async (v) => {
    // Open only with an initial access token from an administrator (test/admin/registration.test.ts).
    const res = await fetch(url(v), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://app.example/cb'] }),
    });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_token');
  },
  pushed_authorization_request_endpoint: async (v, w) => {
    const client = w.byMethod.get('client_secret_basic')!;
    const { headers, fields } = authenticate(w, client, w.server.issuer);
    const { params } = authorizeParams(client);
    const pushed = await post(url(v), { ...fields, ...params }, headers);
    assert.equal(pushed.status, 201, pushed.text);
    const page = await new HttpBrowser().request(
      authUrl(w.doc, { client_id: client.id, request_uri: String(pushed.body.request_uri) }),
    );
    assert.equal(page.status, 303);
    assert.match(page.location!, /\/interaction\//);
  },
  request_uri_parameter_supported: async (v, w) => {
    // false: Portcullis never fetches a request_uri; only its own PAR ones are taken (above).
    assert.equal(v, false);
    const client = w.byMethod.get('client_secret_basic')!;
    const page = await new HttpBrowser().request(
      authUrl(w.doc, { client_id: client.id, request_uri: 'https://app.example/request.jwt' }),
    );
    assert.equal(page.status, 400);
    assert.match(page.html, /request_uri_not_supported|invalid_request_uri/);
  },
  request_parameter_supported: async (v) => {
    assert.equal(v, true); // each signing algorithm below sends one
  },
  request_object_signing_alg_values_supported: async (v, w) => {
    const client = w.byMethod.get('private_key_jwt')!;
    for (const alg of list(v)) {
      const { params } = authorizeParams(client);
      const { headers, fields } = authenticate(w, client, w.server.issuer);
      const pushed = await post(
        url(w.doc.pushed_authorization_request_endpoint),
        { ...fields, request: requestObject(w, client, alg, params) },
        headers,
      );
      assert.equal(pushed.status, 201, `${alg}: ${pushed.text}`);
    }
  },
  authorization_details_types_supported: async (v, w) => {
    // A request with a detail of each type the server knows: taken (on to the sign-in) exactly
    // when the type is advertised, refused otherwise.
    const client = w.flows.detailsClient;
    const samples: Record<string, object> = {
      account_information: accountAccess(),
      payment_initiation: PAYMENT,
    };
    for (const type of list(v)) assert.ok(samples[type], `no sample detail of ${type}: add one`);
    for (const [type, detail] of Object.entries(samples)) {
      const { params } = authorizeParams(client, {
        authorization_details: JSON.stringify([detail]),
      });
      const page = await new HttpBrowser().request(authUrl(w.doc, params));
      assert.equal(page.status, 303, `${type}: ${page.html.slice(0, 200)}`);
      if (list(v).includes(type)) assert.match(page.location!, /\/interaction\//, type);
      else
        assert.equal(
          new URL(page.location!).searchParams.get('error'),
          'invalid_authorization_details',
          `${type} is not advertised: refused`,
        );
    }
  },
};
