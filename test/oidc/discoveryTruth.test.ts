// The discovery document tells the whole truth: every member it advertises is checked by a
// request that exercises it (CHECKS, one entry per member), and a member without an entry fails
// the last test. A feature that adds a member (or a value: a grant type, an authentication
// method, a response mode) adds its check here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { clientAssertion, dpopProof, signingKey } from '../support/fapi.ts';
import { REDIRECT_URI } from '../support/fixtures.ts';
import { flowChecks, flowGrantChecks } from './discoveryTruthFlows.ts';
import {
  authenticate,
  authorizeParams,
  buildWorld,
  PUBLIC_API,
  post,
  signIn,
  type World,
} from './discoveryTruthKit.ts';
import { type Check, requestChecks } from './discoveryTruthRequests.ts';

const list = (value: unknown) => value as string[];
const url = (value: unknown) => value as string;

/** What each signing algorithm advertised for a client's responses yielded, signed in once each. */
const signedResponses = new Map<string, Promise<Record<string, string>>>();
function responsesSignedWith(world: World, alg: string): Promise<Record<string, string>> {
  if (!signedResponses.has(alg)) signedResponses.set(alg, signAll(world, alg));
  return signedResponses.get(alg)!;
}
async function signAll(world: World, alg: string): Promise<Record<string, string>> {
  const client = world.byAlg.get(alg)!;
  const { tokens, browser } = await signIn(world, client);
  const jwks = createLocalJWKSet(
    (await (await fetch(url(world.doc.jwks_uri))).json()) as JSONWebKeySet,
  );
  const verified = async (jwt: string) =>
    (await jwtVerify(jwt, jwks, { issuer: world.server.issuer })).protectedHeader.alg;
  const userinfo = await fetch(url(world.doc.userinfo_endpoint), {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  assert.equal(userinfo.headers.get('content-type')?.split(';')[0], 'application/jwt');
  const { headers, fields } = authenticate(world, client, world.server.issuer);
  const introspection = await post(
    url(world.doc.introspection_endpoint),
    { ...fields, token: tokens.access_token },
    { ...headers, accept: 'application/token-introspection+jwt' },
  );
  assert.equal(introspection.status, 200, introspection.text);
  // JARM: the same session authorizes again, the response is a JWT signed for the client.
  const { params } = authorizeParams(client, { response_mode: 'jwt' });
  const jarm = await browser.request(
    `${url(world.doc.authorization_endpoint)}?${new URLSearchParams(params)}`,
  );
  const response = new URL(jarm.location!).searchParams.get('response');
  assert.ok(response, `a JARM response: ${jarm.location}`);
  return {
    id_token: await verified(tokens.id_token!),
    userinfo: await verified(await userinfo.text()),
    introspection: decodeProtectedHeader(introspection.text).alg!,
    authorization: await verified(response),
  };
}

/** An authenticated request at `endpoint` with each method; a spoiled one must be refused. */
async function eachMethodAuthenticates(
  world: World,
  methods: string[],
  endpoint: string,
  fields: Record<string, string>,
  accepted: (r: Awaited<ReturnType<typeof post>>) => void,
) {
  for (const method of methods) {
    const client = world.byMethod.get(method);
    assert.ok(client, `no client for ${method}: add one to buildWorld()`);
    const good = authenticate(world, client, world.server.issuer);
    const ok = await post(endpoint, { ...fields, ...good.fields }, good.headers);
    accepted(ok);
    const bad = authenticate(world, client, world.server.issuer, true);
    const refused = await post(endpoint, { ...fields, ...bad.fields }, bad.headers);
    assert.equal(refused.status, 401, `${method} with spoiled credentials: ${refused.text}`);
    assert.equal(refused.body.error, 'invalid_client');
  }
}

/** A page answered by the browser at `endpoint` (200 page or a redirect), never 404/5xx. */
async function answers(endpoint: string, init: RequestInit = {}, expected: number[] = [200]) {
  const res = await fetch(endpoint, { redirect: 'manual', ...init });
  assert.ok(expected.includes(res.status), `${endpoint} answered ${res.status}`);
  return res;
}

const GRANT_CHECKS: Record<string, (world: World) => Promise<void>> = {
  ...flowGrantChecks,
  authorization_code: async (world) => {
    const { tokens } = await signIn(world, world.byAlg.get('ES256')!);
    assert.ok(tokens.access_token && tokens.id_token);
  },
  refresh_token: async (world) => {
    const rp = await world.bank.rp();
    const { tokens } = await signIn(world, { ...world.bank.client, method: 'client_secret_basic' });
    assert.ok(tokens.refresh_token, 'the bank client is allowed refresh_token');
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    assert.ok(refreshed.access_token);
  },
  client_credentials: async (world) => {
    const client = world.byMethod.get('client_secret_basic')!;
    const { headers, fields } = authenticate(world, client, world.server.issuer);
    const r = await post(
      url(world.doc.token_endpoint),
      { ...fields, grant_type: 'client_credentials', resource: PUBLIC_API },
      headers,
    );
    assert.equal(r.status, 200, r.text);
  },
};

const CHECKS: Record<string, Check> = {
  ...requestChecks,
  ...flowChecks,
  issuer: async (v, w) => assert.equal(v, w.server.issuer),
  jwks_uri: async (v) => {
    const set = (await (await answers(url(v))).json()) as JSONWebKeySet;
    assert.ok(set.keys.length > 0);
    for (const k of set.keys) assert.equal((k as { d?: string }).d, undefined);
  },
  authorization_endpoint: async (v, w) => {
    // GET and POST (OpenID Connect Core §3.1.2.1) both reach the sign-in.
    const client = w.byAlg.get('ES256')!;
    const get = await answers(
      `${url(v)}?${new URLSearchParams(authorizeParams(client).params)}`,
      {},
      [303],
    );
    assert.match(get.headers.get('location')!, /\/interaction\//);
    const post = await fetch(url(v), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(authorizeParams(client).params),
    });
    assert.equal(post.status, 303, 'POST reaches the sign-in too');
    assert.match(post.headers.get('location')!, /\/interaction\//);
  },
  token_endpoint_auth_methods_supported: async (v, w) =>
    eachMethodAuthenticates(
      w,
      list(v),
      url(w.doc.token_endpoint),
      {
        grant_type: 'authorization_code',
        code: 'not-a-code',
        redirect_uri: REDIRECT_URI,
        code_verifier: 'a'.repeat(43),
      },
      (r) => assert.equal(r.body.error, 'invalid_grant', r.text),
    ),
  token_endpoint: async (v) => {
    const r = await post(url(v), { grant_type: 'client_credentials' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_request');
  },
  introspection_endpoint_auth_methods_supported: async (v, w) =>
    eachMethodAuthenticates(
      w,
      list(v),
      url(w.doc.introspection_endpoint),
      { token: 'not-a-token' },
      (r) => assert.deepEqual([r.status, r.body], [200, { active: false }], r.text),
    ),
  introspection_endpoint: async () => {}, // exercised by the two members around it
  revocation_endpoint_auth_methods_supported: async (v, w) =>
    eachMethodAuthenticates(
      w,
      list(v),
      url(w.doc.revocation_endpoint),
      { token: 'not-a-token' },
      (r) => assert.equal(r.status, 200, r.text),
    ),
  revocation_endpoint: async () => {}, // exercised by revocation_endpoint_auth_methods_supported
  token_endpoint_auth_signing_alg_values_supported: async (v, w) => {
    const client = w.byMethod.get('private_key_jwt')!;
    for (const alg of list(v)) {
      const entry = w.keys.get(alg);
      assert.ok(entry, `no client key for ${alg}`);
      const assertion = clientAssertion(entry.key, client.id, w.server.issuer, {
        header: { alg },
        signAs: entry.signAs,
      });
      const r = await post(url(w.doc.token_endpoint), {
        grant_type: 'client_credentials',
        resource: PUBLIC_API,
        client_id: client.id,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      });
      assert.equal(r.status, 200, `${alg}: ${r.text}`);
    }
  },
  dpop_signing_alg_values_supported: async (v, w) => {
    const client = w.byMethod.get('client_secret_basic')!;
    const keys = {
      ES256: signingKey('ES256'),
      PS256: signingKey('PS256'),
      EdDSA: signingKey('EdDSA'),
    };
    for (const alg of list(v)) {
      const key = alg === 'Ed25519' ? keys.EdDSA : keys[alg as keyof typeof keys];
      assert.ok(key, `no DPoP key for ${alg}`);
      const { headers, fields } = authenticate(w, client, w.server.issuer);
      const proof = dpopProof(key, 'POST', url(w.doc.token_endpoint), { header: { alg } });
      const r = await post(
        url(w.doc.token_endpoint),
        { ...fields, grant_type: 'client_credentials', resource: PUBLIC_API },
        { ...headers, dpop: proof },
      );
      assert.equal(r.status, 200, `${alg}: ${r.text}`);
      assert.equal(r.body.token_type, 'DPoP');
    }
  },
  id_token_signing_alg_values_supported: async (v, w) => {
    assert.ok(list(v).includes('RS256'), 'RS256 (OpenID Connect Core §15.1)');
    for (const alg of list(v)) assert.equal((await responsesSignedWith(w, alg)).id_token, alg);
  },
  userinfo_signing_alg_values_supported: async (v, w) => {
    for (const alg of list(v)) assert.equal((await responsesSignedWith(w, alg)).userinfo, alg);
  },
  introspection_signing_alg_values_supported: async (v, w) => {
    for (const alg of list(v)) assert.equal((await responsesSignedWith(w, alg)).introspection, alg);
  },
  authorization_signing_alg_values_supported: async (v, w) => {
    for (const alg of list(v)) assert.equal((await responsesSignedWith(w, alg)).authorization, alg);
  },
  userinfo_endpoint: async (v) => {
    const res = await answers(url(v), {}, [401]);
    assert.match(res.headers.get('www-authenticate') ?? '', /^(Bearer|DPoP)/);
  },
  response_types_supported: async (v, w) => {
    for (const type of list(v)) {
      assert.equal(type, 'code', `no check for response_type ${type}: add one`);
      await GRANT_CHECKS.authorization_code!(w);
    }
  },
  grant_types_supported: async (v, w) => {
    for (const grant of list(v)) {
      const check = GRANT_CHECKS[grant];
      assert.ok(check, `no check for grant type ${grant}: add one to GRANT_CHECKS`);
      await check(w);
    }
  },
};

describe('discovery tells the whole truth', () => {
  let world: World;
  before(async () => {
    world = await buildWorld();
  });
  after(() => world.close());

  for (const [member, check] of Object.entries(CHECKS)) {
    test(member, async (t) => {
      const value = world.doc[member];
      if (value === undefined) return t.skip('not advertised by this configuration');
      await check(value, world, t);
    });
  }

  test('every advertised member has a check', () => {
    const unchecked = Object.keys(world.doc).filter((m) => !(m in CHECKS));
    assert.deepEqual(unchecked, [], 'add a check to CHECKS for each');
  });
});
