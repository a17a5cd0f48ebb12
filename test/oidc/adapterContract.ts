// The storage adapter's contract, run against real PostgreSQL and against the embedded database.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { manualClock } from '../../src/clock.ts';
import { createArtifactAdapter, hashId } from '../../src/oidc/adapter.ts';
import { type ArtifactStore, createArtifactStore } from '../../src/oidc/artifactStore.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

export function adapterContract(kind: 'postgres' | 'embedded') {
  describe(`oidc adapter on ${kind} PostgreSQL`, () => {
    let db: TestDatabase;
    const clock = manualClock(Date.UTC(2026, 0, 1));
    let Adapter: ReturnType<typeof createArtifactAdapter>;
    let artifacts: ArtifactStore;
    const rowsOf = (model: string) => db.knex('oidc_artifacts').where({ model }).select('*');

    before(async () => {
      db = await createTestDatabase(kind);
      artifacts = createArtifactStore({
        knex: db.knex,
        clock,
        clockToleranceSeconds: 15,
        prepared: kind === 'postgres',
      });
      Adapter = createArtifactAdapter({ artifacts, clock });
    });
    after(() => db.drop());

    test('upsert then find returns the payload with its id, stored only as a hash', async () => {
      const at = new Adapter('AccessToken');
      const id = 'secret-token-value-1';
      await at.upsert(
        id,
        { jti: id, kind: 'AccessToken', grantId: 'g1', scope: 'a b', exp: 1 },
        60,
      );
      assert.deepEqual(await at.find(id), {
        jti: id,
        kind: 'AccessToken',
        grantId: 'g1',
        scope: 'a b',
        exp: 1,
      });
      const [row] = await db.knex('oidc_artifacts').where({ model: 'AccessToken' });
      assert.equal(row.id, hashId(id));
      assert.equal(row.grant_id, 'g1');
      assert.ok(!JSON.stringify(row).includes(id), 'the token value appears nowhere in the row');
      assert.equal(new Date(row.expires_at).getTime(), clock.now() + 60_000);
    });

    test('grants and clients of non-bearer models stay readable', async () => {
      const grant = new Adapter('Grant');
      await grant.upsert(
        'grant-xyz',
        { jti: 'grant-xyz', kind: 'Grant', clientId: 'c1', accountId: 'u1' },
        100,
      );
      const [row] = await rowsOf('Grant');
      assert.equal(row.id, 'grant-xyz');
      assert.equal(row.payload.clientId, 'c1');
    });

    test('find of a missing id is undefined; expiresIn undefined stores no expiry', async () => {
      const code = new Adapter('AuthorizationCode');
      assert.equal(await code.find('nope'), undefined);
      const session = new Adapter('Session');
      await session.upsert('sess-1', {
        jti: 'sess-1',
        uid: 'uid-1',
        kind: 'Session',
        accountId: 'u1',
      });
      const [row] = await rowsOf('Session');
      assert.equal(row.expires_at, null);
      assert.equal(row.session_uid, 'uid-1');
    });

    test('findByUid finds the session by its uid without revealing its id', async () => {
      const session = new Adapter('Session');
      const found = await session.findByUid('uid-1');
      assert.equal(found?.accountId, 'u1');
      assert.equal(found?.jti, undefined);
      assert.deepEqual(await session.find('sess-1'), {
        jti: 'sess-1',
        uid: 'uid-1',
        kind: 'Session',
        accountId: 'u1',
      });
    });

    test('interactions keep no session cookie, and their returnTo and PAR reference are restored', async () => {
      const interaction = new Adapter('Interaction');
      const par = new Adapter('PushedAuthorizationRequest');
      const uid = 'interaction-uid-123';
      const parId = 'par-request-uri-secret';
      await par.upsert(
        parId,
        { jti: parId, kind: 'PushedAuthorizationRequest', clientId: 'c1' },
        60,
      );
      await interaction.upsert(
        uid,
        {
          jti: uid,
          kind: 'Interaction',
          returnTo: `https://issuer.example/auth/${uid}`,
          session: { accountId: 'u1', uid: 'uid-1', cookie: 'session-cookie-value' },
          parJti: parId,
        },
        60,
      );
      const dump = JSON.stringify(await db.knex('oidc_artifacts').select('*'));
      for (const secret of [uid, parId, 'session-cookie-value'])
        assert.ok(!dump.includes(secret), `${secret} is not stored`);
      const found = await interaction.find(uid);
      assert.equal(found?.returnTo, `https://issuer.example/auth/${uid}`);
      assert.deepEqual(found?.session, { accountId: 'u1', uid: 'uid-1' });
      // The stored PAR reference still finds and consumes the PAR.
      const parRef = String(found?.parJti);
      assert.equal((await par.find(parRef))?.clientId, 'c1');
      await par.consume(parRef);
      assert.equal(typeof (await par.find(parId))?.consumed, 'number');
    });

    test('consume marks the artefact consumed, once', async () => {
      const code = new Adapter('AuthorizationCode');
      await code.upsert('code-1', { jti: 'code-1', kind: 'AuthorizationCode', grantId: 'g2' }, 60);
      await code.consume('code-1');
      assert.equal((await code.find('code-1'))?.consumed, Math.floor(clock.now() / 1000));
      await assert.rejects(code.consume('code-1'), {
        name: 'InvalidGrant',
        message: 'invalid_grant',
      });
    });

    test('50 concurrent consumes of one code: exactly one succeeds', async () => {
      const code = new Adapter('AuthorizationCode');
      await code.upsert(
        'code-race',
        { jti: 'code-race', kind: 'AuthorizationCode', grantId: 'g3' },
        60,
      );
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, () => code.consume('code-race')),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results.filter((r) => r.status === 'rejected')) {
        assert.equal((r as PromiseRejectedResult).reason.error, 'invalid_grant');
      }
    });

    test('a consume lost to a simultaneous one revokes the grant and what was issued from it', async () => {
      const grant = new Adapter('Grant');
      const code = new Adapter('AuthorizationCode');
      const at = new Adapter('AccessToken');
      await grant.upsert('g-reused', { jti: 'g-reused', kind: 'Grant', clientId: 'c1' }, 60);
      await grant.upsert('g-other', { jti: 'g-other', kind: 'Grant', clientId: 'c1' }, 60);
      await code.upsert('code-reused', { kind: 'AuthorizationCode', grantId: 'g-reused' }, 60);
      await at.upsert('at-reused', { kind: 'AccessToken', grantId: 'g-reused' }, 60);
      await at.upsert('at-other', { kind: 'AccessToken', grantId: 'g-other' }, 60);
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => code.consume('code-reused')),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results.filter((r) => r.status === 'rejected'))
        assert.equal((r as PromiseRejectedResult).reason.error, 'invalid_grant');
      assert.equal(await grant.find('g-reused'), undefined);
      assert.equal(await code.find('code-reused'), undefined);
      assert.equal(await at.find('at-reused'), undefined);
      assert.ok(await grant.find('g-other'), 'other grants are untouched');
      assert.ok(await at.find('at-other'));
    });

    test('of several revocations of one reused grant, exactly one is told it revoked it', async () => {
      const grant = new Adapter('Grant');
      const rt = new Adapter('RefreshToken');
      await grant.upsert('g-once', { jti: 'g-once', kind: 'Grant', clientId: 'c1' }, 60);
      await rt.upsert('rt-once', { kind: 'RefreshToken', grantId: 'g-once' }, 60);
      await rt.consume('rt-once');
      const told = await Promise.all(
        Array.from({ length: 5 }, () =>
          artifacts.revokeReusedGrant('RefreshToken', hashId('rt-once')),
        ),
      );
      assert.deepEqual(told.filter(Boolean), ['g-once']);
      // An artefact never consumed is no proof of reuse: nothing is revoked for it.
      await grant.upsert('g-fresh', { jti: 'g-fresh', kind: 'Grant', clientId: 'c1' }, 60);
      await rt.upsert('rt-fresh', { kind: 'RefreshToken', grantId: 'g-fresh' }, 60);
      assert.equal(
        await artifacts.revokeReusedGrant('RefreshToken', hashId('rt-fresh')),
        undefined,
      );
      assert.ok(await grant.find('g-fresh'));
    });

    test('finds of one token value by several token models at once each get their own row', async () => {
      // Introspection asks AccessToken, ClientCredentials and RefreshToken for the same value at
      // once; the adapter answers them with one query.
      const at = new Adapter('AccessToken');
      const cc = new Adapter('ClientCredentials');
      const rt = new Adapter('RefreshToken');
      await cc.upsert('shared-value', { jti: 'shared-value', kind: 'ClientCredentials' }, 60);
      await rt.upsert('other-value', { jti: 'other-value', kind: 'RefreshToken' }, 60);
      const [a, c, r] = await Promise.all([
        at.find('shared-value'),
        cc.find('shared-value'),
        rt.find('shared-value'),
      ]);
      assert.equal(a, undefined);
      assert.deepEqual(c, { jti: 'shared-value', kind: 'ClientCredentials' });
      assert.equal(r, undefined);
      const [r2, c2] = await Promise.all([rt.find('other-value'), cc.find('other-value')]);
      assert.equal(r2?.kind, 'RefreshToken');
      assert.equal(c2, undefined);
    });

    test('concurrent finds of the same token by the same model each get their own copy', async () => {
      const cc = new Adapter('ClientCredentials');
      await cc.upsert(
        'hot-value',
        { jti: 'hot-value', kind: 'ClientCredentials', extra: { a: 1 } },
        60,
      );
      const at = new Adapter('AccessToken');
      const found = await Promise.all([
        at.find('hot-value'),
        cc.find('hot-value'),
        at.find('hot-value'),
        cc.find('hot-value'),
      ]);
      assert.deepEqual(found[1], found[3]);
      assert.notEqual(found[1], found[3]);
      assert.notEqual(found[1]?.extra, found[3]?.extra);
      assert.equal(found[0], undefined);
    });

    test('replay detection: of 20 concurrent checks of one jti, exactly one is new', async () => {
      // oidc-provider's ReplayDetection.unique calls find(id) and saves when it finds nothing.
      const replay = new Adapter('ReplayDetection');
      const found = await Promise.all(Array.from({ length: 20 }, () => replay.find('jti-hash-1')));
      assert.equal(found.filter((f) => f === undefined).length, 1);
      for (const f of found.filter(Boolean)) assert.equal(f?.kind, 'ReplayDetection');
      // The claim already protects for 300 s: a save asking for less writes nothing more.
      await replay.upsert(
        'jti-hash-1',
        { jti: 'jti-hash-1', kind: 'ReplayDetection', iss: 'c1', exp: 0 },
        30,
      );
      assert.ok(await replay.find('jti-hash-1'), 'still seen after the save');
      const [row] = await db
        .knex('oidc_artifacts')
        .where({ model: 'ReplayDetection', id: 'jti-hash-1' });
      assert.equal(new Date(row.expires_at).getTime(), clock.now() + 300_000);
    });

    test('replay detection: a save asking for longer than the claim extends the row', async () => {
      const replay = new Adapter('ReplayDetection');
      assert.equal(await replay.find('jti-hash-long'), undefined);
      await replay.upsert(
        'jti-hash-long',
        { jti: 'jti-hash-long', kind: 'ReplayDetection', iss: 'c1', exp: 0 },
        3600,
      );
      assert.equal((await replay.find('jti-hash-long'))?.iss, 'c1');
      const [row] = await db
        .knex('oidc_artifacts')
        .where({ model: 'ReplayDetection', id: 'jti-hash-long' });
      assert.equal(new Date(row.expires_at).getTime(), clock.now() + 3600_000);
    });

    test('revokeByGrantId deletes every artefact of that grant for the model, and nothing else', async () => {
      const at = new Adapter('AccessToken');
      const rt = new Adapter('RefreshToken');
      for (let i = 0; i < 3; i++) {
        await at.upsert(
          `at-g9-${i}`,
          { jti: `at-g9-${i}`, kind: 'AccessToken', grantId: 'g9' },
          60,
        );
      }
      await at.upsert('at-g10', { jti: 'at-g10', kind: 'AccessToken', grantId: 'g10' }, 60);
      await rt.upsert('rt-g9', { jti: 'rt-g9', kind: 'RefreshToken', grantId: 'g9' }, 60);
      await at.revokeByGrantId('g9');
      for (let i = 0; i < 3; i++) assert.equal(await at.find(`at-g9-${i}`), undefined);
      assert.ok(await at.find('at-g10'));
      assert.ok(await rt.find('rt-g9'), 'other models are revoked by their own adapter');
    });

    test('find does not hide expired rows; the sweep deletes them after the clock tolerance, in batches', async () => {
      const cc = new Adapter('ClientCredentials');
      await db.knex('oidc_artifacts').delete();
      for (let i = 0; i < 25; i++)
        await cc.upsert(`cc-${i}`, { jti: `cc-${i}`, kind: 'ClientCredentials' }, 10);
      await cc.upsert('cc-long', { jti: 'cc-long', kind: 'ClientCredentials' }, 3600);
      clock.advance(20_000); // past expiry, within tolerance (10 s + 15 s)
      assert.ok(
        await cc.find('cc-0'),
        'expired rows are still returned: the provider checks expiry',
      );
      assert.equal(await artifacts.sweepExpired(10), 0);
      clock.advance(10_000);
      assert.equal(await artifacts.sweepExpired(10), 25);
      assert.equal(await cc.find('cc-0'), undefined);
      assert.ok(await cc.find('cc-long'));
    });

    test('destroy removes one artefact', async () => {
      const rat = new Adapter('RegistrationAccessToken');
      await rat.upsert(
        'rat-1',
        { jti: 'rat-1', kind: 'RegistrationAccessToken', clientId: 'c' },
        60,
      );
      await rat.destroy('rat-1');
      assert.equal(await rat.find('rat-1'), undefined);
    });

    test('device codes are found by user code, and the reference handed back consumes them', async () => {
      const dc = new Adapter('DeviceCode');
      await dc.upsert(
        'device-code-secret',
        { jti: 'device-code-secret', kind: 'DeviceCode', userCode: 'ABCD-EFGH' },
        60,
      );
      const found = await dc.findByUserCode('ABCD-EFGH');
      assert.equal(found?.userCode, 'ABCD-EFGH');
      await dc.consume(String(found?.jti));
      assert.ok((await dc.find('device-code-secret'))?.consumed);
    });

    test('every lookup path is served by an index', async () => {
      const indexes = (
        await db.knex.raw("select indexdef from pg_indexes where tablename = 'oidc_artifacts'")
      ).rows
        .map((r: { indexdef: string }) => r.indexdef)
        .join('\n');
      for (const column of [
        'model, id',
        'grant_id, model',
        'session_uid',
        'user_code',
        'account_id, model',
        'client_id',
        'expires_at',
      ]) {
        assert.match(indexes, new RegExp(`\\(${column}\\)`), `index on (${column})`);
      }
    });
  });
}
