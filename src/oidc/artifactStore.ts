// The one owner of oidc_artifacts: every statement on the table lives here or in its siblings
// artifactBatches.ts (the request path, batched per event-loop turn) and artifactMaintenance.ts
// (revocation, registration allowances, the sweep), built once per app.
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import { statement, statementRunner } from '../db/prepared.ts';
import { turnBatch } from '../db/turnBatch.ts';
import { artifactBatches } from './artifactBatches.ts';
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
 * The request path's single statements, prepared once per pooled connection (its finds, saves,
 * consumes and replay claims are batched per turn: artifactBatches.ts).
 */
const SQL = {
  findByUid: statement(
    'oidc_session_by_uid',
    "select payload, consumed_at from oidc_artifacts where model = 'Session' and session_uid = ?",
  ),
  findByUserCode: statement(
    'oidc_artifact_by_user_code',
    'select id, payload, consumed_at from oidc_artifacts where model = ? and user_code = ?',
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
};

export function createArtifactStore(options: ArtifactStoreOptions) {
  const { knex } = options;
  const run = statementRunner(knex, { prepared: options.prepared ?? false });
  const rows = async (s: (typeof SQL)['destroy'], values: readonly unknown[]) =>
    (await run<ArtifactRow>(s, values)).rows;

  // One statement of each kind per turn of the event loop, each caller answered from it.
  const batches = artifactBatches(run, options.clock);
  const findOne = turnBatch(batches.find);
  const upsertOne = turnBatch(batches.upsert);
  const consumeOne = turnBatch(batches.consume);
  const claimOne = turnBatch(batches.claim);

  return {
    // --- The adapter's statements: one per lookup on the token path ---------------------------

    /** Saves an artefact; answered once the statement carrying it has committed. */
    upsert(a: ArtifactWrite): Promise<void> {
      return upsertOne(a);
    },

    /** Saves several artefacts in one statement (with whatever else this turn saves). */
    async upsertMany(writes: ArtifactWrite[]): Promise<void> {
      await Promise.all(writes.map(upsertOne));
    },

    async find(model: string, key: string): Promise<ArtifactRow | undefined> {
      return (await findOne({ model, key })).row;
    },

    /**
     * A token by key, asked for as `model` (AccessToken, ClientCredentials or RefreshToken); a
     * refresh token comes with its Grant and, when bound to a session, its Session. Introspection
     * asks for the three models of one value at once: they go out in the same statement.
     */
    findToken(model: string, key: string): Promise<WithCompanions> {
      return findOne({ model, key });
    },

    /** An authorization code with its Grant and Session, as findToken. */
    findCode(key: string): Promise<WithCompanions> {
      return findOne({ model: 'AuthorizationCode', key });
    },

    async findSessionByUid(uid: string): Promise<ArtifactRow | undefined> {
      return (await rows(SQL.findByUid, [uid]))[0];
    },

    async findByUserCode(model: string, userCodeKey: string): Promise<ArtifactRow | undefined> {
      return (await rows(SQL.findByUserCode, [model, userCodeKey]))[0];
    },

    /** Inserts a replay-detection entry; true when it is new (exactly one caller per id). */
    claimReplay(id: string, payload: object, expiresAt: Date): Promise<boolean> {
      return claimOne({ id, payload, expiresAt });
    },

    async findReplay(id: string): Promise<ArtifactRow | undefined> {
      return (await findOne({ model: 'ReplayDetection', key: id })).row;
    },

    /** Marks an artefact consumed; true for exactly one caller. */
    consume(model: string, key: string): Promise<boolean> {
      return consumeOne({ model, key });
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
