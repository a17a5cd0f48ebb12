// The one owner of oidc_artifacts: every statement on the table lives here or in its sibling
// artifactMaintenance.ts (revocation, registration allowances, the sweep), built once per app.
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import { statement, statementRunner } from '../db/prepared.ts';
import { createArtifactMaintenance } from './artifactMaintenance.ts';

export type { SessionsEnded } from './artifactMaintenance.ts';

export interface ArtifactRow {
  payload: Record<string, unknown>;
  consumed_at: Date | null;
  id?: string;
  model?: string;
  /** Token and code finds: 'self', or the 'grant' / 'session' read ahead with it. */
  part?: 'self' | 'grant' | 'session';
}

/** A token or code with the Grant and Session read in its own statement. */
export interface WithCompanions {
  row: ArtifactRow | undefined;
  companions: ArtifactRow[];
}

/** One artefact as written: `key` is its id, hashed when the id is a bearer secret. */
export interface ArtifactWrite {
  model: string;
  key: string;
  /** The payload as stored (no bearer id in it). */
  payload: Record<string, unknown>;
  grantId: string | null;
  sessionUid: string | null;
  userCode: string | null;
  accountId: string | null;
  clientId: string | null;
  expiresAt: Date | null;
}

export interface ArtifactStoreOptions {
  knex: Knex;
  clock: Clock;
  /** Seconds a row outlives its expiry (the provider's clock tolerance). */
  clockToleranceSeconds: number;
  /** Named prepared statements (real PostgreSQL only; see db/prepared.ts). */
  prepared?: boolean;
}

/**
 * Rows matching `where`, then (for a row of `owner`) its Grant and, if it expires with a
 * session, that Session: one statement for what the provider always reads next.
 */
function withCompanions(owner: string, where: string): string {
  return `with t as (
      select model, payload, consumed_at, grant_id from oidc_artifacts where ${where})
    select model, payload, consumed_at, 'self' as part from t
    union all
    select g.model, g.payload, g.consumed_at, 'grant' from t join oidc_artifacts g
      on t.model = '${owner}' and g.model = 'Grant' and g.id = t.grant_id
    union all
    select s.model, s.payload, s.consumed_at, 'session' from t join oidc_artifacts s
      on t.model = '${owner}' and t.payload->>'expiresWithSession' = 'true'
      and s.model = 'Session' and s.session_uid = t.payload->>'sessionUid'`;
}

/** Every statement of the request path, prepared once per pooled connection. */
const SQL = {
  upsert: statement(
    'oidc_artifact_upsert',
    `insert into oidc_artifacts (model, id, payload, grant_id, session_uid, user_code, account_id, client_id, expires_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id,
       session_uid = excluded.session_uid, user_code = excluded.user_code,
       account_id = excluded.account_id, client_id = excluded.client_id,
       expires_at = excluded.expires_at`,
  ),
  find: statement(
    'oidc_artifact_find',
    'select payload, consumed_at from oidc_artifacts where model = ? and id = ?',
  ),
  claim: statement(
    'oidc_replay_claim',
    `insert into oidc_artifacts (model, id, payload, expires_at) values ('ReplayDetection', ?, ?, ?)
     on conflict (model, id) do nothing returning id`,
  ),
  claimed: statement(
    'oidc_replay_find',
    "select payload, consumed_at from oidc_artifacts where model = 'ReplayDetection' and id = ?",
  ),
  findByUid: statement(
    'oidc_session_by_uid',
    "select payload, consumed_at from oidc_artifacts where model = 'Session' and session_uid = ?",
  ),
  findByUserCode: statement(
    'oidc_artifact_by_user_code',
    'select id, payload, consumed_at from oidc_artifacts where model = ? and user_code = ?',
  ),
  consume: statement(
    'oidc_artifact_consume',
    'update oidc_artifacts set consumed_at = ? where model = ? and id = ? and consumed_at is null returning id',
  ),
  /**
   * A consumed code or refresh token came back: its Grant and everything issued from it go, in
   * one statement. The grant id comes back only to the caller whose statement deleted the Grant.
   */
  revokeReused: statement(
    'oidc_artifact_revoke_reused',
    `with source as (
       select grant_id from oidc_artifacts
       where model = ? and id = ? and consumed_at is not null and grant_id is not null),
     issued as (
       delete from oidc_artifacts where grant_id = (select grant_id from source) returning 1)
     delete from oidc_artifacts where model = 'Grant' and id = (select grant_id from source)
     returning id`,
  ),
  destroy: statement(
    'oidc_artifact_destroy',
    'delete from oidc_artifacts where model = ? and id = ?',
  ),
  revokeByGrantId: statement(
    'oidc_artifact_revoke_grant',
    'delete from oidc_artifacts where model = ? and grant_id = ?',
  ),
  /**
   * By the number of token models asked for at once (1 to 3). A refresh token comes with its
   * Grant and, when bound to a session, its Session (`part`).
   */
  findTokens: [1, 2, 3].map((n) =>
    statement(
      `oidc_token_find_${n}`,
      withCompanions(
        'RefreshToken',
        `model in (${Array.from({ length: n }, () => '?').join(', ')}) and id = ?`,
      ),
    ),
  ),
  /** An authorization code with its Grant and Session, as findTokens. */
  findCode: statement(
    'oidc_code_find',
    withCompanions('AuthorizationCode', "model = 'AuthorizationCode' and id = ?"),
  ),
};

export function createArtifactStore(options: ArtifactStoreOptions) {
  const { knex, clock } = options;
  const run = statementRunner(knex, { prepared: options.prepared ?? false });
  const rows = async (s: (typeof SQL)['find'], values: readonly unknown[]) =>
    (await run<ArtifactRow>(s, values)).rows;

  /** Token finds waiting for the end of the current tick, by key. */
  const pendingTokenFinds = new Map<string, { models: string[]; found: Promise<ArtifactRow[]> }>();

  return {
    // --- The adapter's statements: one per lookup on the token path ---------------------------

    async upsert(a: ArtifactWrite): Promise<void> {
      await run(SQL.upsert, [
        a.model,
        a.key,
        JSON.stringify(a.payload),
        a.grantId,
        a.sessionUid,
        a.userCode,
        a.accountId,
        a.clientId,
        a.expiresAt,
      ]);
    },

    async find(model: string, key: string): Promise<ArtifactRow | undefined> {
      return (await rows(SQL.find, [model, key]))[0];
    },

    /**
     * A token by key, asked for as `model` (AccessToken, ClientCredentials or RefreshToken). The
     * finds of one key in the same tick are answered by one statement; every asker after the
     * first of a model gets its own copy of the payloads.
     */
    findToken(model: string, key: string): Promise<WithCompanions> {
      let batch = pendingTokenFinds.get(key);
      if (!batch) {
        const models: string[] = [];
        const found = new Promise<ArtifactRow[]>((resolve, reject) => {
          queueMicrotask(() => {
            pendingTokenFinds.delete(key);
            rows(SQL.findTokens[models.length - 1]!, [...models, key]).then(resolve, reject);
          });
        });
        batch = { models, found };
        pendingTokenFinds.set(key, batch);
      }
      const first = !batch.models.includes(model);
      if (first) batch.models.push(model);
      return batch.found.then((list) => {
        const self = list.find((r) => r.model === model && r.part === 'self');
        if (!self) return { row: undefined, companions: [] };
        const companions =
          model === 'RefreshToken' ? list.filter((r) => r.part && r.part !== 'self') : [];
        if (first) return { row: self, companions };
        const copy = (r: ArtifactRow) => ({ ...r, payload: structuredClone(r.payload) });
        return { row: copy(self), companions: companions.map(copy) };
      });
    },

    async findCode(key: string): Promise<WithCompanions> {
      const list = await rows(SQL.findCode, [key]);
      const row = list.find((r) => r.part === 'self');
      return { row, companions: row ? list.filter((r) => r.part !== 'self') : [] };
    },

    async findSessionByUid(uid: string): Promise<ArtifactRow | undefined> {
      return (await rows(SQL.findByUid, [uid]))[0];
    },

    async findByUserCode(model: string, userCodeKey: string): Promise<ArtifactRow | undefined> {
      return (await rows(SQL.findByUserCode, [model, userCodeKey]))[0];
    },

    /** Inserts a replay-detection entry; true when it is new (exactly one caller per id). */
    async claimReplay(id: string, payload: object, expiresAt: Date): Promise<boolean> {
      return (await rows(SQL.claim, [id, JSON.stringify(payload), expiresAt])).length === 1;
    },

    async findReplay(id: string): Promise<ArtifactRow | undefined> {
      return (await rows(SQL.claimed, [id]))[0];
    },

    /** Marks an artefact consumed; true for exactly one caller. */
    async consume(model: string, key: string): Promise<boolean> {
      return (await rows(SQL.consume, [new Date(clock.now()), model, key])).length === 1;
    },

    /**
     * Revokes the grant of a consumed artefact that was presented again. Returns the grant id
     * when this call revoked it, undefined when there was none left to revoke.
     */
    async revokeReusedGrant(model: string, key: string): Promise<string | undefined> {
      const [row] = await rows(SQL.revokeReused, [model, key]);
      return row?.id;
    },

    async destroy(model: string, key: string): Promise<void> {
      await run(SQL.destroy, [model, key]);
    },

    async revokeByGrantId(model: string, grantId: string): Promise<void> {
      await run(SQL.revokeByGrantId, [model, grantId]);
    },

    ...createArtifactMaintenance(options),
  };
}

export type ArtifactStore = ReturnType<typeof createArtifactStore>;
