// Checks of test/oidc/discoveryTruth.test.ts for the flows beside the authorization code: the
// device grant, CIBA (poll, ping, signed requests), token exchange, and back- and front-channel
// logout reaching a relying party. Each flow runs once and the members it proves share it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { generateSync } from 'otplib';
import { CIBA_GRANT_TYPE } from '../../src/oidc/cibaClients.ts';
import { approvalsPage } from '../ciba/accountPage.ts';
import { BACKCHANNEL_EVENT } from '../logout/world.ts';
import { HttpBrowser } from '../support/browserless.ts';
import { type Alg, now, type SigningKey, signingKey, signJws } from '../support/fapi.ts';
import { BANK_API, PASSWORD } from '../support/fixtures.ts';
import { approveUserCode } from './devicePage.ts';
import { FRONTCHANNEL_URI } from './discoveryTruthFlowWorld.ts';
import { authenticate, PUBLIC_API, post, signIn, type World } from './discoveryTruthKit.ts';
import type { Check } from './discoveryTruthRequests.ts';
import { ACCESS_TOKEN, EXCHANGE } from './tokenExchangeWorld.ts';

const list = (value: unknown) => value as string[];
const url = (value: unknown) => value as string;
const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';

/** `run` once per world (and key): the flows are slow, several members share one run. */
function once<T>(run: (w: World, key: string) => Promise<T>) {
  const runs = new WeakMap<World, Map<string, Promise<T>>>();
  return (w: World, key = '') => {
    if (!runs.has(w)) runs.set(w, new Map());
    const byKey = runs.get(w)!;
    if (!byKey.has(key)) byKey.set(key, run(w, key));
    return byKey.get(key)!;
  };
}

/** openid-client for a client of the world (a secret: basic authentication; none: public). */
const relyingParty = (w: World, id: string, secret?: string) =>
  oidc.discovery(
    new URL(w.server.issuer),
    id,
    {},
    secret ? oidc.ClientSecretBasic(secret) : oidc.None(),
    { execute: [oidc.allowInsecureRequests] },
  );

/** The device flow end to end: the TV asks, Alice approves on the device page, the TV polls. */
const deviceFlow = once(async (w) => {
  const tv = await relyingParty(w, w.flows.device);
  const started = await oidc.initiateDeviceAuthorization(tv, {
    scope: 'openid accounts:read',
    resource: BANK_API,
  });
  const done = await approveUserCode(w.server.issuer, started.user_code, w.bank.alice.email);
  assert.match(done.html, /Your device is connected/);
  const tokens = await oidc.pollDeviceAuthorizationGrant(tv, started, { resource: BANK_API });
  assert.equal(tokens.scope, 'accounts:read');
  assert.equal(tokens.claims()?.sub, w.bank.alice.id);
});

/** CIBA in `mode`: the client asks, the approver approves on their account page, tokens. */
const cibaFlow = once(async (w, mode) => {
  const client = w.flows.ciba[mode];
  assert.ok(client, `no CIBA client for ${mode}: add one to buildFlowWorld()`);
  const rp = await relyingParty(w, client.id, client.secret);
  const notify = `notify-${randomUUID()}`;
  const started = await oidc.initiateBackchannelAuthentication(rp, {
    scope: 'openid accounts:read',
    login_hint: client.approver.email,
    binding_message: `Desk ${mode}`,
    ...(mode === 'ping' ? { client_notification_token: notify } : {}),
  });
  const browser = new HttpBrowser();
  const page = await approvalsPage(w.server.issuer, client.approver.email, browser);
  assert.match(page.html, new RegExp(`Desk ${mode}`));
  const pinged = mode === 'ping' ? w.flows.receiver.next() : undefined;
  const code = generateSync({
    secret: client.approver.secret,
    epoch: Math.floor(Date.now() / 1000),
  });
  assert.match((await browser.submit(page, /\/totp$/, { code })).html, /Approved/);
  if (pinged) {
    const ping = await pinged;
    assert.equal(ping.authorization, `Bearer ${notify}`);
    assert.deepEqual(ping.body, { auth_req_id: started.auth_req_id });
  }
  const tokens = await oidc.genericGrantRequest(rp, CIBA_GRANT_TYPE, {
    auth_req_id: started.auth_req_id,
    resource: BANK_API,
  });
  assert.equal(tokens.scope, 'accounts:read');
});

/** Alice signs in to the bank client and signs out: what reached the relying party. */
const logout = once(async (w) => {
  const { tokens, browser, rp } = await signIn(w, {
    ...w.bank.client,
    method: 'client_secret_basic',
  });
  const sid = tokens.claims()!.sid;
  assert.equal(typeof sid, 'string', 'the ID token carries sid');
  const end = oidc.buildEndSessionUrl(rp, {
    id_token_hint: tokens.id_token!,
    post_logout_redirect_uri: 'https://app.example/signed-out',
  });
  const confirm = await browser.open(end.href, w.server.issuer);
  const done = await browser.submit(
    confirm,
    /\/session\/end\/confirm$/,
    { logout: 'yes' },
    w.server.issuer,
  );
  const receiver = w.flows.logoutReceiver;
  await receiver.received(1);
  const jwks = createLocalJWKSet(
    (await (await fetch(url(w.doc.jwks_uri))).json()) as JSONWebKeySet,
  );
  const { payload } = await jwtVerify(receiver.tokens[0]!, jwks, {
    issuer: w.server.issuer,
    audience: w.bank.client.id,
    typ: 'logout+jwt',
  });
  const frames = [...done.html.matchAll(/<iframe class="frontchannel-logout" src="([^"]+)"/g)].map(
    (m) => new URL(m[1]!.replace(/&amp;/g, '&')),
  );
  return { sid, logoutToken: payload as JWTPayload, frames };
});

export const flowGrantChecks: Record<string, (world: World) => Promise<void>> = {
  [DEVICE_CODE]: (w) => deviceFlow(w),
  [CIBA_GRANT_TYPE]: (w) => cibaFlow(w, 'poll'),
  [EXCHANGE]: async (w) => {
    // A token of the bank API, exchanged by its resource server for one of the public API.
    const { tokens } = await signIn(
      w,
      w.byMethod.get('client_secret_basic')!,
      'openid accounts:read rates:read',
      {},
      BANK_API,
    );
    const exchanger = w.flows.exchanger;
    const exchanged = await oidc.genericGrantRequest(
      await relyingParty(w, exchanger.id, exchanger.secret),
      EXCHANGE,
      {
        subject_token: tokens.access_token,
        subject_token_type: ACCESS_TOKEN,
        resource: PUBLIC_API,
        scope: 'rates:read',
      },
    );
    assert.equal(exchanged.issued_token_type, ACCESS_TOKEN);
    assert.equal(exchanged.scope, 'rates:read');
  },
};

export const flowChecks: Record<string, Check> = {
  device_authorization_endpoint: async (v, w) => {
    const r = await post(url(v), { client_id: w.flows.device, scope: 'openid accounts:read' });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.device_code && r.body.user_code);
    const page = await fetch(url(r.body.verification_uri));
    assert.equal(page.status, 200, 'the verification URI is the device page');
    await deviceFlow(w);
  },
  backchannel_authentication_endpoint: async (v, w) => {
    const { id, secret } = w.flows.ciba.poll!;
    const basic = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
    const r = await post(url(v), { scope: 'openid' }, { authorization: basic });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error, 'invalid_request', 'no hint of the person: refused, not 404');
    await cibaFlow(w, 'poll');
  },
  backchannel_token_delivery_modes_supported: async (v, w) => {
    for (const mode of list(v)) await cibaFlow(w, mode);
  },
  backchannel_user_code_parameter_supported: async (v, w) => {
    assert.equal(v, false, 'no user codes: the approval is a second factor on the account page');
    const { id, secret } = w.flows.ciba.poll!;
    const basic = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
    const r = await post(
      url(w.doc.backchannel_authentication_endpoint),
      { scope: 'openid', login_hint: w.bank.alice.email, user_code: '1234' },
      { authorization: basic },
    );
    assert.equal(r.status, 400, r.text);
    assert.match(String(r.body.error_description), /user_code is not supported/);
  },
  backchannel_authentication_request_signing_alg_values_supported: async (v, w) => {
    const client = { id: w.flows.cibaSigner, method: 'private_key_jwt' };
    const { services } = w.server.app;
    const ask = async (alg: string, key: SigningKey, signAs: Alg, hint: string, kid?: string) => {
      const iat = now();
      const request = signJws(
        { alg, kid: kid ?? key.publicJwk.kid, typ: 'oauth-authz-req+jwt' },
        {
          ...{ iss: client.id, aud: w.server.issuer, iat, nbf: iat, exp: iat + 300 },
          ...{ jti: randomUUID(), scope: 'openid accounts:read', login_hint: hint },
        },
        key.privateKey,
        signAs,
      );
      const { headers, fields } = authenticate(w, client, w.server.issuer);
      return post(url(w.doc.backchannel_authentication_endpoint), { ...fields, request }, headers);
    };
    for (const alg of list(v)) {
      const entry = w.keys.get(alg);
      assert.ok(entry, `no client key for ${alg}`);
      // A person per algorithm: a client may keep only a few requests of one person waiting.
      const { email } = await services.accounts.create({
        email: `signed.${alg.toLowerCase()}@example.com`,
        password: PASSWORD,
        roles: ['customer'],
      });
      const r = await ask(alg, entry.key, entry.signAs, email);
      assert.equal(r.status, 200, `${alg}: ${r.text}`);
      assert.ok(r.body.auth_req_id);
    }
    // The signature is verified: another key under the id of a registered one is refused.
    const registered = w.keys.get('ES256')!.key.publicJwk.kid as string;
    const forged = await ask('ES256', signingKey('ES256'), 'ES256', w.bank.alice.email, registered);
    assert.equal(forged.status, 400, forged.text);
  },
  backchannel_logout_supported: async (v, w) => {
    assert.equal(v, true);
    const { logoutToken } = await logout(w);
    assert.equal(logoutToken.sub, w.bank.alice.id);
    assert.deepEqual(logoutToken.events, { [BACKCHANNEL_EVENT]: {} });
  },
  backchannel_logout_session_supported: async (v, w) => {
    assert.equal(v, true);
    const { sid, logoutToken } = await logout(w);
    assert.equal(logoutToken.sid, sid, 'the logout token names the session of the ID token');
  },
  frontchannel_logout_supported: async (v, w) => {
    assert.equal(v, true);
    const { frames } = await logout(w);
    assert.deepEqual(
      frames.map((f) => f.origin + f.pathname),
      [FRONTCHANNEL_URI],
    );
  },
  frontchannel_logout_session_supported: async (v, w) => {
    assert.equal(v, true);
    const { sid, frames } = await logout(w);
    assert.equal(frames[0]!.searchParams.get('iss'), w.server.issuer);
    assert.equal(frames[0]!.searchParams.get('sid'), sid);
  },
};
