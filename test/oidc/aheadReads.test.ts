// Other stores' reads that ride in the artefacts' find (src/db/aheadReads.ts): a login step's
// person, login progress and the person's Grants come with its read-ahead, and a code's person
// with the code. Each store is answered from them once, as it would have read its own tables
// alone; anything not read ahead (another person, a second ask) goes to the database. Real
// PostgreSQL and real HTTP; statements are counted on the store's pool.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type Koa from 'koa';
import { createAccountStore, userWithAccessAhead } from '../../src/accounts/store.ts';
import { createMfaStore, progressWithFactorsAhead } from '../../src/mfa/store.ts';
import { type createArtifactAdapter, hashId } from '../../src/oidc/adapter.ts';
import type { ArtifactStore } from '../../src/oidc/artifactStore.ts';
import { type ArtifactApp, readAheadOf, startArtifactApp } from '../support/artifactApp.ts';
import { type TestDatabase, testDatabaseKind } from '../support/db.ts';

const skip =
  testDatabaseKind() !== 'postgres' &&
  'needs TEST_DATABASE_URL (statements are counted on the pool)';

describe("other stores' reads in the artefacts' find", { skip }, () => {
  let db: TestDatabase;
  let artifacts: ArtifactStore;
  let Adapter: ReturnType<typeof createArtifactAdapter>;
  let base: string;
  let app: ArtifactApp;
  let accounts: ReturnType<typeof createAccountStore>;
  let mfa: ReturnType<typeof createMfaStore>;
  /** What the test's routes do, by path, set by each test. */
  const routes = new Map<string, (ctx: Koa.Context) => Promise<void>>();
  const now = () => new Date();

  /** Statements the store's pool ran during `work`, and its result. */
  async function counted<T>(work: () => Promise<T>): Promise<{ statements: number; value: T }> {
    const start = db.counter.statements;
    const value = await work();
    return { statements: db.counter.statements - start, value };
  }

  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 200, path);
  };

  /** A person with a role that grants a scope of an API, and a confirmed authenticator app. */
  async function person(email: string): Promise<string> {
    const at = now();
    const apiId = randomUUID();
    const roleId = randomUUID();
    const id = randomUUID();
    const api = `https://${email.split('@')[0]}.example`;
    await db
      .knex('apis')
      .insert({ id: apiId, identifier: api, name: api, created_at: at, updated_at: at });
    await db.knex('api_scopes').insert({ api_id: apiId, name: 'payments:read', description: 'd' });
    await db
      .knex('roles')
      .insert({ id: roleId, name: `teller-${id}`, created_at: at, updated_at: at });
    await db.knex('role_scopes').insert({ role_id: roleId, api_id: apiId, scope: 'payments:read' });
    await accounts.insertUser(
      {
        id,
        email,
        name: 'Ada',
        password_hash: null,
        status: 'active',
        email_verified: true,
        created_at: at,
        updated_at: at,
        password_changed_at: at,
        last_login_at: null,
      },
      [roleId],
      at,
    );
    await db.knex('totp_authenticators').insert({
      id: randomUUID(),
      user_id: id,
      secret_sealed: 'sealed',
      created_at: at,
      confirmed_at: at,
    });
    return id;
  }

  const interaction = (uid: string, payload: Record<string, unknown>) =>
    new Adapter('Interaction').upsert(uid, { kind: 'Interaction', uid, ...payload }, 600);

  before(async () => {
    app = await startArtifactApp({
      inner: readAheadOf,
      handle: async (ctx) => {
        await routes.get(ctx.path)?.(ctx);
        return {};
      },
      reads: { account: userWithAccessAhead, progress: progressWithFactorsAhead },
    });
    ({ db, artifacts, Adapter, base } = app);
    accounts = createAccountStore(db.knex, { readAhead: artifacts.aheadOf('account') });
    mfa = createMfaStore(db.knex, { readAhead: artifacts.aheadOf('progress') });
  });
  after(() => app.close());

  test("a login step's person and progress come with it, as their stores read them", async () => {
    const ada = await person('ada@example.com');
    await interaction('i-one', { session: { uid: 'su-one', accountId: ada } });
    await mfa.saveProgress({
      interaction_hash: hashId('i-one'),
      user_id: ada,
      amr: ['pwd'],
      level: 1,
      address_points: 2,
      expires_at: new Date(Date.now() + 60_000),
    });
    // Read alone, outside a request: what the read-ahead must match exactly.
    const alone = {
      account: await accounts.findUserWithAccess(ada),
      progress: await mfa.progressWithFactors(hashId('i-one'), now()),
    };
    assert.deepEqual(alone.account?.role_scopes, { 'https://ada.example': ['payments:read'] });
    assert.equal(alone.progress?.factors.totp, true);
    let seen: Record<string, { statements: number; value: unknown }> = {};
    routes.set('/interaction/i-one', async () => {
      seen = {
        account: await counted(() => accounts.findUserWithAccess(ada)),
        progress: await counted(() => mfa.progressWithFactors(hashId('i-one'), now())),
        accountAgain: await counted(() => accounts.findUserWithAccess(ada)),
        progressAgain: await counted(() => mfa.progressWithFactors(hashId('i-one'), now())),
      };
    });
    const start = db.counter.statements;
    await get('/interaction/i-one');
    assert.equal(db.counter.statements - start, 3, 'the read-ahead, then the two second asks');
    assert.equal(seen.account?.statements, 0);
    assert.deepEqual(seen.account?.value, alone.account);
    assert.equal(seen.progress?.statements, 0);
    assert.deepEqual(seen.progress?.value, alone.progress);
    assert.equal(seen.accountAgain?.statements, 1, 'served once: then the database');
    assert.deepEqual(seen.accountAgain?.value, alone.account);
    assert.equal(seen.progressAgain?.statements, 1);
  });

  test('a login between its factors names its person through the progress alone', async () => {
    const bea = await person('bea@example.com');
    await interaction('i-two', {});
    await mfa.saveProgress({
      interaction_hash: hashId('i-two'),
      user_id: bea,
      amr: ['pwd'],
      level: 1,
      address_points: 0,
      expires_at: new Date(Date.now() + 60_000),
    });
    let seen: Record<string, { statements: number; value: unknown }> = {};
    routes.set('/interaction/i-two', async () => {
      seen = { account: await counted(() => accounts.findUserWithAccess(bea)) };
    });
    await get('/interaction/i-two');
    assert.equal(seen.account?.statements, 0);
    assert.equal((seen.account?.value as { email: string } | undefined)?.email, 'bea@example.com');
  });

  test('what is not there is served as absent; what is not named reads the database', async () => {
    const cy = await person('cy@example.com');
    const dee = await person('dee@example.com');
    // Signed in, no consent yet: the person's live Grants come too (not the expired one).
    await interaction('i-three', { result: { login: { accountId: cy } } });
    const grants = new Adapter('Grant');
    await grants.upsert(
      'g-live',
      { kind: 'Grant', jti: 'g-live', accountId: cy, clientId: 'c' },
      600,
    );
    await artifacts.upsert({
      model: 'Grant',
      key: 'g-expired',
      payload: { kind: 'Grant', jti: 'g-expired', accountId: cy },
      grantId: null,
      sessionUid: null,
      userCode: null,
      accountId: cy,
      clientId: 'c',
      expiresAt: new Date(Date.now() - 60_000),
    });
    const alone = await artifacts.grantsOf(cy);
    assert.deepEqual(
      alone.map((g) => g.id),
      ['g-live'],
    );
    let seen: Record<string, { statements: number; value: unknown }> = {};
    routes.set('/auth/i-three', async () => {
      seen = {
        progress: await counted(() => mfa.progressWithFactors(hashId('i-three'), now())),
        grants: await counted(() => artifacts.grantsOf(cy)),
        grant: await counted(() => grants.find('g-live')),
        other: await counted(() => accounts.findUserWithAccess(dee)),
      };
    });
    await get('/auth/i-three');
    assert.equal(seen.progress?.statements, 0, 'no progress: served as none');
    assert.equal(seen.progress?.value, undefined);
    assert.equal(seen.grants?.statements, 0);
    assert.deepEqual(seen.grants?.value, alone);
    assert.equal(seen.grant?.statements, 0, 'the Grant found next by id');
    assert.equal((seen.grant?.value as { jti: string } | undefined)?.jti, 'g-live');
    assert.equal(seen.other?.statements, 1, 'a person the step does not name');
    assert.equal((seen.other?.value as { email: string } | undefined)?.email, 'dee@example.com');
  });

  test('a code brings its person to the request that finds it; an id that is not a UUID finds no one', async () => {
    const eve = await person('eve@example.com');
    const codes = new Adapter('AuthorizationCode');
    await codes.upsert(
      'code-one',
      { kind: 'AuthorizationCode', accountId: eve, grantId: 'g-x' },
      60,
    );
    await codes.upsert('code-two', { kind: 'AuthorizationCode', accountId: 'alice' }, 60);
    let seen: Record<string, { statements: number; value: unknown }> = {};
    routes.set('/token', async () => {
      seen = {
        code: await counted(() => codes.find('code-one')),
        account: await counted(() => accounts.findUserWithAccess(eve)),
        notUuid: await counted(() => codes.find('code-two')),
      };
    });
    await get('/token');
    assert.equal(seen.code?.statements, 1);
    assert.equal(seen.account?.statements, 0);
    assert.equal((seen.account?.value as { email: string } | undefined)?.email, 'eve@example.com');
    assert.equal(seen.notUuid?.statements, 1);
    assert.equal((seen.notUuid?.value as { accountId: string } | undefined)?.accountId, 'alice');
    // Outside a request nothing is kept: the code's person is read when asked.
    await codes.find('code-one');
    const alone = await counted(() => accounts.findUserWithAccess(eve));
    assert.equal(alone.statements, 1);
  });
  test("a store's own write in the request wins over what was read ahead for it", async () => {
    const fay = await person('fay@example.com');
    await interaction('i-four', { session: { uid: 'su-four', accountId: fay } });
    let seen: Record<string, { statements: number; value: unknown }> = {};
    routes.set('/interaction/i-four', async () => {
      // Read ahead: no progress yet, and the person as stored. Then the step writes both.
      await mfa.saveProgress({
        interaction_hash: hashId('i-four'),
        user_id: fay,
        amr: ['hwk', 'user'],
        level: 3,
        address_points: 0,
        expires_at: new Date(Date.now() + 60_000),
      });
      await accounts.updateUser(fay, { name: 'Fay Renamed' });
      seen = {
        progress: await counted(() => mfa.progressWithFactors(hashId('i-four'), now())),
        account: await counted(() => accounts.findUserWithAccess(fay)),
      };
    });
    await get('/interaction/i-four');
    assert.equal(seen.progress?.statements, 1, 'read again after its own save');
    assert.equal(
      (seen.progress?.value as { progress: { level: number } } | undefined)?.progress.level,
      3,
    );
    assert.equal(seen.account?.statements, 1);
    assert.equal((seen.account?.value as { name: string } | undefined)?.name, 'Fay Renamed');
  });
});
