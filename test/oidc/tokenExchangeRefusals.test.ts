// Token exchange (RFC 8693) refusals: each with its exact RFC 8693 error and nothing written;
// revoked subject tokens (opaque revoked, JWT whose grant was revoked), the person's present
// roles and status.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import {
  ACCESS_TOKEN,
  ACCOUNTS,
  CARDS,
  type ExchangeWorld,
  exchangeWorld,
  REDIRECT,
  type Secretive,
  STATEMENTS,
} from './tokenExchangeWorld.ts';

describe('token exchange refusals', () => {
  let w: ExchangeWorld;
  before(async () => {
    w = await exchangeWorld();
  });
  after(() => w.server.close());

  test('asking wider is invalid_scope, and nothing is written', async () => {
    const subject = await w.aliceToken(ACCOUNTS);
    const before = await w.written();
    for (const scope of [
      'statements:read statements:export',
      'statements:admin',
      'accounts:read',
    ]) {
      assert.deepEqual(
        await w.refusal(w.accountsRs, {
          subject_token: subject,
          subject_token_type: ACCESS_TOKEN,
          resource: STATEMENTS,
          scope,
        }),
        { error: 'invalid_scope', description: 'requested scope is not allowed' },
        scope,
      );
    }
    assert.deepEqual(await w.written(), before);
  });

  test('each malformed or unauthorised request is refused with its RFC 8693 error, nothing written', async () => {
    const subject = await w.aliceToken(ACCOUNTS);
    const ok = { subject_token: subject, subject_token_type: ACCESS_TOKEN, resource: STATEMENTS };
    const before = await w.written();
    const cases: [string, Secretive, Record<string, string>, string, string][] = [
      [
        'no subject token',
        w.accountsRs,
        { subject_token_type: ACCESS_TOKEN, resource: STATEMENTS },
        'invalid_request',
        'missing required parameter subject_token',
      ],
      [
        'an ID token type',
        w.accountsRs,
        { ...ok, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' },
        'invalid_request',
        `subject_token_type must be ${ACCESS_TOKEN}`,
      ],
      [
        'an actor token',
        w.accountsRs,
        { ...ok, actor_token: 'x', actor_token_type: ACCESS_TOKEN },
        'invalid_request',
        'actor_token is not supported: the authenticated client is the actor',
      ],
      [
        'a refresh token asked for',
        w.accountsRs,
        { ...ok, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' },
        'invalid_request',
        `requested_token_type must be ${ACCESS_TOKEN}`,
      ],
      [
        'no target',
        w.accountsRs,
        { subject_token: subject, subject_token_type: ACCESS_TOKEN },
        'invalid_target',
        'name the API the token is for with resource (or audience)',
      ],
      [
        'two targets',
        w.accountsRs,
        { ...ok, audience: CARDS },
        'invalid_target',
        'a token exchange issues a token for exactly one API: name only one',
      ],
      [
        'an unknown API',
        w.accountsRs,
        { ...ok, resource: 'https://nowhere.example' },
        'invalid_target',
        'unknown resource https://nowhere.example',
      ],
      [
        'the same API',
        w.accountsRs,
        { ...ok, resource: ACCOUNTS },
        'invalid_target',
        'the subject token is already for this API',
      ],
      [
        "another API's resource server",
        w.statementsRs,
        { ...ok, resource: ACCOUNTS },
        'unauthorized_client',
        "only a resource server of the subject token's API may exchange it",
      ],
      [
        'a client not allowed the target',
        w.accountsRs,
        { ...ok, resource: CARDS },
        'invalid_target',
        `client is not allowed to request tokens for ${CARDS}`,
      ],
      [
        'a client serving no API',
        w.outsider,
        ok,
        'unauthorized_client',
        "only a resource server of the subject token's API may exchange it",
      ],
      [
        'an unknown token',
        w.accountsRs,
        { ...ok, subject_token: 'not-a-token' },
        'invalid_grant',
        'the subject token is not active (unknown, expired or revoked)',
      ],
      [
        'a forged JWT',
        w.accountsRs,
        { ...ok, subject_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' },
        'invalid_grant',
        'the subject token is not active (unknown, expired or revoked)',
      ],
    ];
    for (const [what, client, params, error, description] of cases)
      assert.deepEqual(await w.refusal(client, params), { error, description }, what);

    // A client credentials token has no person behind it.
    const machine = (
      await oidc.clientCredentialsGrant(await w.rp(w.cardsBatch), { resource: CARDS })
    ).access_token;
    assert.deepEqual(await w.refusal(w.accountsRs, { ...ok, subject_token: machine }), {
      error: 'invalid_grant',
      description: "the subject token is not a person's access token",
    });
    const afterMachine = await w.written();
    assert.deepEqual(
      afterMachine.audit,
      before.audit + 1,
      'only the client credentials token.issued',
    );
    assert.equal(afterMachine.artifacts, before.artifacts);
  });

  test('a client without the grant type is refused: unauthorized_client', async () => {
    assert.deepEqual(
      await w.refusal(w.web, {
        subject_token: await w.aliceToken(ACCOUNTS),
        subject_token_type: ACCESS_TOKEN,
        resource: STATEMENTS,
      }),
      {
        error: 'unauthorized_client',
        description: 'requested grant type is not allowed for this client',
      },
    );
  });

  test('a revoked subject token is refused with invalid_grant', async () => {
    const subject = await w.aliceToken(STATEMENTS);
    assert.ok(!subject.includes('.'), 'an opaque subject token');
    await oidc.tokenRevocation(await w.rp(w.web, REDIRECT), subject);
    const before = await w.written();
    assert.deepEqual(
      await w.refusal(w.statementsRs, {
        subject_token: subject,
        subject_token_type: ACCESS_TOKEN,
        resource: ACCOUNTS,
      }),
      {
        error: 'invalid_grant',
        description: 'the subject token is not active (unknown, expired or revoked)',
      },
    );
    assert.deepEqual(await w.written(), before);
  });

  test("the person's present roles and status count, not those at sign-in", async () => {
    const { accounts, roles } = w.server.app.services;
    const subject = await w.aliceToken(ACCOUNTS);
    const params = {
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN,
      resource: STATEMENTS,
    };
    const before = await w.written();
    await roles.revoke('alice@example.com', 'customer');
    try {
      assert.deepEqual(await w.refusal(w.accountsRs, params), {
        error: 'invalid_scope',
        description: `no scope of ${STATEMENTS} may be exchanged for`,
      });
    } finally {
      await roles.grant('alice@example.com', 'customer');
    }
    await accounts.disable('alice@example.com');
    try {
      assert.deepEqual(await w.refusal(w.accountsRs, params), {
        error: 'invalid_grant',
        description: 'the person of the subject token cannot be served',
      });
    } finally {
      await accounts.enable('alice@example.com');
    }
    assert.deepEqual(await w.written(), before, 'nothing written');
    assert.equal((await w.exchange(w.accountsRs, params)).scope, 'statements:read');
  });
});
