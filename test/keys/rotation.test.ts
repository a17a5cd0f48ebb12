// Key rotation across instances: two servers on one database; a rotation staged through one is
// published by the other within KEYS_REFRESH_SECONDS, and tokens signed before and after verify.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startTestServer, type TestServer, testSecrets } from '../support/server.ts';

const API = 'https://payments.api.example';

/** The published keys of the default algorithm (ES256); the ring's RS256 key rotates apart. */
async function jwks(server: TestServer) {
  const set = (await (await fetch(server.url('/jwks'))).json()) as {
    keys: { kid: string; alg: string }[];
  };
  return { keys: set.keys.filter((k) => k.alg === 'ES256') };
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 5000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('signing key rotation across instances', () => {
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  let client: { id: string; secret: string };

  const token = async (server: TestServer) => {
    const res = await fetch(server.url('/token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: API }),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { access_token: string }).access_token;
  };

  before(async () => {
    db = await createTestDatabase();
    const env = { ...testSecrets(), KEYS_REFRESH_SECONDS: '1', KEYS_ACTIVATION_DELAY_SECONDS: '2' };
    a = await startTestServer({ db, env });
    b = await startTestServer({ db, env });
    await a.app.services.catalogue.create({
      identifier: API,
      scopes: [{ name: 'payments:write', description: 'Make payments' }],
    });
    const created = await a.app.services.clients.create({
      name: 'Payments job',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_basic',
      apiAccess: { [API]: ['payments:write'] },
    });
    client = { id: created.client.clientId, secret: created.secret! };
  });
  after(async () => {
    await a.close();
    await b.close();
    await db.drop();
  });

  test('both instances start with the same single key of each algorithm', async () => {
    const all = async (server: TestServer) =>
      ((await (await fetch(server.url('/jwks'))).json()) as { keys: { alg: string }[] }).keys;
    const [ka, kb] = [await all(a), await all(b)];
    assert.deepEqual(ka.map((k) => k.alg).sort(), ['ES256', 'RS256']);
    assert.deepEqual(ka, kb);
  });

  test('a rotation on one instance is published by the other, and old and new tokens verify', async () => {
    const oldToken = await token(b);
    const oldKid = decodeProtectedHeader(oldToken).kid!;
    const { key } = await a.app.services.signingKeys.rotate();
    assert.notEqual(key.kid, oldKid);

    // Published by instance B within the refresh interval, while the old key still signs.
    const published = await waitFor('B to publish the staged key', async () => {
      const set = await jwks(b);
      return set.keys.some((k) => k.kid === key.kid) ? set : undefined;
    });
    assert.deepEqual(published.keys.map((k) => k.kid).sort(), [oldKid, key.kid].sort());
    assert.equal(
      decodeProtectedHeader(await token(b)).kid,
      oldKid,
      'a staged key does not sign yet',
    );
    const list = await b.app.services.signingKeys.list();
    assert.deepEqual(
      list
        .filter((k) => k.alg === 'ES256')
        .map((k) => k.status)
        .sort(),
      ['active', 'staged'],
    );

    // After the activation delay both instances sign with the new key.
    const newToken = await waitFor('B to sign with the new key', async () => {
      const t = await token(b);
      return decodeProtectedHeader(t).kid === key.kid ? t : undefined;
    });
    await waitFor('A to sign with the new key', async () =>
      decodeProtectedHeader(await token(a)).kid === key.kid ? true : undefined,
    );

    const set = createLocalJWKSet(await jwks(b));
    for (const t of [oldToken, newToken]) {
      const { payload } = await jwtVerify(t, set, { issuer: b.issuer, audience: API });
      assert.equal(payload.client_id, client.id);
    }
    const statuses = Object.fromEntries(
      (await a.app.services.signingKeys.list())
        .filter((k) => k.alg === 'ES256')
        .map((k) => [k.kid, k.status]),
    );
    assert.deepEqual(statuses, { [key.kid]: 'active', [oldKid]: 'previous' });
  });
});
