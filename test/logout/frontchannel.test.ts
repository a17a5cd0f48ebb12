// Front-Channel Logout 1.0 over HTTP: the page after "Sign out" loads each signed-in client's
// frontchannel_logout_uri in an iframe with iss and sid, the CSP lets exactly those origins be
// framed, and the person goes on to the post-logout redirect URI; discovery says it is supported.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type LogoutWorld, logoutWorld } from './world.ts';

const FRONTCHANNEL = 'https://app.example/frontchannel-logout?app=budget';

describe('front-channel logout', () => {
  let w: LogoutWorld;

  before(async () => {
    w = await logoutWorld();
    await w.server.app.services.clients.setLogoutUris(w.bank.client.id, {
      frontchannelLogoutUri: FRONTCHANNEL,
    });
  });
  after(async () => {
    await w?.close();
  });

  const iframes = (html: string) =>
    [...html.matchAll(/<iframe class="frontchannel-logout" src="([^"]+)"/g)].map(
      (m) => new URL(m[1]!.replace(/&amp;/g, '&')),
    );

  test('the signed-out page frames the client with iss and sid, then goes on', async () => {
    const session = await w.signIn();
    const res = await w.signOut(session);
    assert.equal(res.status, 200);
    assert.equal(res.location, undefined, 'no redirect past the front-channel page');
    const [frame, ...others] = iframes(res.html);
    assert.deepEqual(others, []);
    assert.ok(frame, 'the client is framed');
    assert.equal(frame.origin + frame.pathname, 'https://app.example/frontchannel-logout');
    assert.equal(frame.searchParams.get('app'), 'budget', "the URI's own query is kept");
    assert.equal(frame.searchParams.get('iss'), w.server.issuer);
    assert.equal(frame.searchParams.get('sid'), session.claims.sid);
    assert.match(
      res.html,
      /<meta http-equiv="refresh" content="3;url=https:\/\/app\.example\/signed-out"/,
    );
    assert.match(res.html, /<a href="https:\/\/app\.example\/signed-out">Continue<\/a>/);
    // Back-channel logout still goes out for the same client.
    await w.rp.received(1);
  });

  test('the CSP lets exactly the framed origins in', async () => {
    const session = await w.signIn();
    const end = new URL(w.server.url('/session/end'));
    end.searchParams.set('id_token_hint', session.idToken);
    const confirm = await session.browser.open(end.href, w.server.issuer);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.html)![1]!;
    const res = await fetch(w.server.url('/session/end/confirm'), {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie: session.browser.jar.header(w.server.url('/session/end/confirm')),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ xsrf, logout: 'yes' }),
    });
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'none'/, 'the page itself is never framed');
    assert.match(csp, /; frame-src https:\/\/app\.example$/);
    const html = await res.text();
    assert.equal(iframes(html).length, 1);
    assert.doesNotMatch(html, /http-equiv="refresh"/, 'no post-logout URI: it stays here');
    assert.match(html, /You are signed out/);
  });

  test('discovery says front- and back-channel logout are supported, with sid', async () => {
    const meta = (await (
      await fetch(w.server.url('/.well-known/openid-configuration'))
    ).json()) as Record<string, unknown>;
    assert.equal(meta.frontchannel_logout_supported, true);
    assert.equal(meta.frontchannel_logout_session_supported, true);
    assert.equal(meta.backchannel_logout_supported, true);
    assert.equal(meta.backchannel_logout_session_supported, true);
    assert.ok((meta.claims_supported as string[]).includes('sid'));
  });
});
