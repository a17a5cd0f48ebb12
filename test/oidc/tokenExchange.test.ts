// Token exchange (RFC 8693) over real HTTP, openid-client's genericGrantRequest as the resource
// server: a person's ACCOUNTS token exchanged by the ACCOUNTS API's backend for a narrower
// STATEMENTS token carrying act, introspected by STATEMENTS; exchanged again (nested act); bound
// to a DPoP key; a FAPI 2.0 client only with a proof.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import {
  assertError,
  assertionFields,
  clientAssertion,
  dpopProof,
  send,
  signingKey,
  thumbprint,
} from '../support/fapi.ts';
import {
  ACCESS_TOKEN,
  ACCOUNTS,
  EXCHANGE,
  type ExchangeWorld,
  exchangeWorld,
  REDIRECT,
  STATEMENTS,
} from './tokenExchangeWorld.ts';

describe('token exchange', () => {
  let w: ExchangeWorld;
  before(async () => {
    w = await exchangeWorld();
  });
  after(() => w.server.close());

  test("ACCOUNTS' resource server exchanges Alice's token for a narrower STATEMENTS token with act", async () => {
    const subject = await w.aliceToken(ACCOUNTS);
    assert.ok(subject.includes('.'), 'a JWT subject token');
    const before = await w.written();
    const response = await w.exchange(w.accountsRs, {
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN,
      resource: STATEMENTS,
      scope: 'statements:read',
    });
    assert.equal(response.issued_token_type, ACCESS_TOKEN);
    assert.equal(response.token_type, 'bearer');
    assert.equal(response.scope, 'statements:read');
    assert.ok(!response.access_token.includes('.'), "STATEMENTS' tokens are opaque");

    // STATEMENTS' resource server introspects it: active, Alice's, issued to the exchanging
    // client, with act, and not outliving the subject token.
    const view = await oidc.tokenIntrospection(await w.rp(w.statementsRs), response.access_token);
    assert.equal(view.active, true);
    assert.equal(view.sub, w.aliceId);
    assert.equal(view.aud, STATEMENTS);
    assert.equal(view.client_id, w.accountsRs.id);
    assert.equal(view.scope, 'statements:read');
    assert.deepEqual(view.act, { sub: w.accountsRs.id });
    assert.equal(view.acr, 'urn:portcullis:ac:password');
    assert.ok((view.exp as number) <= (decodeJwt(subject).exp as number));
    // Nobody else learns of it: the web app is neither its client nor STATEMENTS' server.
    assert.deepEqual(
      await oidc.tokenIntrospection(await w.rp(w.web, REDIRECT), response.access_token),
      {
        active: false,
      },
    );

    assert.deepEqual(await w.written(), {
      artifacts: before.artifacts + 2, // the grant it stands on and the token
      audit: before.audit + 2, // token.exchanged and token.issued
    });
    const [event] = await w.server.app.db
      .knex('audit_events')
      .where({ action: 'token.exchanged' })
      .orderBy('seq', 'desc')
      .limit(1);
    assert.equal(event.actor_id, w.accountsRs.id);
    assert.equal(event.target_id, w.aliceId);
    const details = typeof event.details === 'string' ? JSON.parse(event.details) : event.details;
    assert.deepEqual(details, {
      subjectClient: w.web.id,
      fromApi: ACCOUNTS,
      toApi: STATEMENTS,
      scope: 'statements:read',
      bound: false,
    });
    assert.ok(!JSON.stringify(event).includes(subject), 'never the subject token');
    assert.ok(!JSON.stringify(event).includes(response.access_token), 'never the new token');
  });

  test('without scope: what the roles, the consent, the client and the level all allow', async () => {
    const response = await w.exchange(w.accountsRs, {
      subject_token: await w.aliceToken(ACCOUNTS),
      subject_token_type: ACCESS_TOKEN,
      audience: STATEMENTS,
    });
    // export: no role grants it; admin: needs level 2, Alice signed in with a password.
    assert.equal(response.scope, 'statements:read');
  });

  test('exchanged again, act nests the earlier actor; a JWT is refused once its grant is revoked', async () => {
    const subject = await w.aliceToken(ACCOUNTS);
    const first = await w.exchange(w.accountsRs, {
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN,
      resource: STATEMENTS,
    });
    const second = await w.exchange(w.statementsRs, {
      subject_token: first.access_token,
      subject_token_type: ACCESS_TOKEN,
      resource: ACCOUNTS,
    });
    assert.equal(second.scope, 'accounts:read');
    const claims = decodeJwt(second.access_token);
    assert.equal(claims.sub, w.aliceId);
    assert.equal(claims.client_id, w.statementsRs.id);
    assert.deepEqual(claims.act, { sub: w.statementsRs.id, act: { sub: w.accountsRs.id } });

    // Alice revokes the web app on her account page: its JWTs can no longer be exchanged.
    await w.server.app.services.grants.revokeClient(w.aliceId, w.web.id);
    assert.deepEqual(
      await w.refusal(w.accountsRs, {
        subject_token: subject,
        subject_token_type: ACCESS_TOKEN,
        resource: STATEMENTS,
      }),
      {
        error: 'invalid_grant',
        description: 'the subject token is not active (unknown, expired or revoked)',
      },
    );
  });

  test('with a DPoP proof the new token is bound to the exchanging client', async () => {
    const key = await oidc.randomDPoPKeyPair('ES256');
    const config = await w.rp(w.statementsRs);
    const response = await oidc.genericGrantRequest(
      config,
      EXCHANGE,
      {
        subject_token: await w.aliceToken(STATEMENTS),
        subject_token_type: ACCESS_TOKEN,
        resource: ACCOUNTS,
      },
      { DPoP: oidc.getDPoPHandle(config, key) },
    );
    assert.equal(response.token_type, 'dpop');
    const claims = decodeJwt(response.access_token);
    assert.ok((claims.cnf as { jkt?: string }).jkt, 'cnf.jkt');
  });

  test('a FAPI 2.0 client exchanges only with a DPoP proof: its token is bound to its key', async () => {
    const subject = await w.aliceToken(ACCOUNTS);
    const form = () => ({
      grant_type: EXCHANGE,
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN,
      resource: STATEMENTS,
      ...assertionFields(w.fapiRs.id, clientAssertion(w.fapiRs.key, w.fapiRs.id, w.server.issuer)),
    });
    const before = await w.written();
    assertError(
      await send(w.server, '/token', form()),
      400,
      'invalid_request',
      "this client's tokens are DPoP-bound: send a DPoP proof",
    );
    assert.deepEqual(await w.written(), before, 'nothing written');

    const dpopKey = signingKey('ES256');
    const bound = await send(w.server, '/token', form(), {
      headers: { DPoP: dpopProof(dpopKey, 'POST', w.server.url('/token')) },
    });
    assert.equal(bound.status, 200, JSON.stringify(bound.body));
    assert.equal(bound.body.token_type, 'DPoP');
    const view = await oidc.tokenIntrospection(await w.rp(w.statementsRs), bound.body.access_token);
    assert.equal(view.active, true);
    assert.deepEqual(view.cnf, { jkt: thumbprint(dpopKey) });
    assert.deepEqual(view.act, { sub: w.fapiRs.id });
  });

  test('discovery lists the grant type', async () => {
    const metadata = (await fetch(w.server.url('/.well-known/openid-configuration')).then((r) =>
      r.json(),
    )) as { grant_types_supported: string[] };
    assert.ok(metadata.grant_types_supported.includes(EXCHANGE));
  });
});
