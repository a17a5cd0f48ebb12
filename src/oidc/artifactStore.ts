// The one owner of oidc_artifacts: every statement on the table lives here or in its siblings
// artifactBatches.ts (the request path, batched per event-loop turn) and artifactMaintenance.ts
// (revocation, registration allowances, the sweep), built once per app. Inside a request that
// holds its writes back (requestWrites.ts), saves and deletes wait for the request's one flush
// and finds read them first; consumes and replay claims always go out at once. A login step's
// Interaction, Session and Grants may be read ahead for its request (readAhead.ts): its finds
// are answered from those rows after its own writes, each at most once.
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import {
  type AheadReads,
  type AheadRows as AheadRowsOfStore,
  forgettingOnWrite,
} from '../db/aheadReads.ts';
import { statement, statementRunner } from '../db/prepared.ts';
import { runTogether } from '../db/together.ts';
import { turnBatch } from '../db/turnBatch.ts';
import { artifactBatches, writeParts } from './artifactBatches.ts';
import { createArtifactMaintenance, SESSION_DEVICE } from './artifactMaintenance.ts';
import { type AheadAsk, aheadRows } from './readAhead.ts';
import { type HeldUnit, requestWrites } from './requestWrites.ts';

export type { SessionsEnded } from './artifactMaintenance.ts';

export interface ArtifactRow {
  payload: Record<string, unknown>;
  consumed_at: Date | null;
  id?: string;
  model?: string;
  /** A Session's uid (finds of a read-ahead only). */
  session_uid?: string | null;
  /**
   * Token and code finds: 'self', or the 'grant' / 'session' read ahead with it; with other
   * stores' reads (src/db/aheadReads.ts), their rows as JSON payloads ('account', 'progress',
   * 'account_grants').
   */
  part?: 'self' | 'grant' | 'session' | 'account' | 'progress' | 'account_grants';
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
  /**
   * The same payload as JSON text when it was serialised already (a write held back in a
   * request: src/oidc/requestWrites.ts); then this text is what is written.
   */
  payloadJson?: string;
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
  /** Other stores' reads that ride in the finds (src/db/aheadReads.ts); none when absent. */
  reads?: AheadReads;
}

/**
 * The request path's single statements, prepared once per pooled connection (its finds, saves,
 * consumes and replay claims are batched per turn: artifactBatches.ts).
 */
const SQL = {
  findByUid: statement(
    'oidc_session_by_uid',
    "select id, payload, consumed_at from oidc_artifacts where model = 'Session' and session_uid = ?",
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
  const batches = artifactBatches(run, options.clock, options.reads);
  const findOne = turnBatch(batches.find);
  const upsertOne = turnBatch(batches.upsert);
  const consumeOne = turnBatch(batches.consume);
  const claimOne = turnBatch(batches.claim);
  // A request's held-back writes, with those of the other requests flushing in the same turn.
  const writeOne = turnBatch(batches.write);
  const writes = requestWrites((unit) =>
    unit.parts.length === 0 ? writeOne(unit) : writeWithParts(unit),
  );

  /**
   * A request whose flush carries other stores' writes: one statement of its own, never joined
   * with another request's (their parts could touch the same rows, which one statement may not).
   */
  async function writeWithParts(unit: HeldUnit): Promise<void> {
    const last = unit.append && unit.events.length > 0 ? unit.append(unit.events) : undefined;
    await runTogether(knex, [...unit.parts, ...writeParts(unit.writes)], last);
  }
  // The rows a login step read ahead (readAhead.ts), per request (its write buffer).
  const ahead = aheadRows();
  // Any maintenance function but a listed read may delete rows a request read ahead.
  const maintenance = forgettingOnWrite(createArtifactMaintenance(options), MAINTENANCE_READS, () =>
    ahead.forgetAll(writes.current()),
  );

  /** A row as the request in progress left it, else as it read it ahead, else the database's. */
  async function findRow(model: string, key: string): Promise<WithCompanions> {
    const buffer = writes.current();
    const held = buffer?.lookup(model, key);
    if (held !== undefined) return { row: held ?? undefined, companions: [] };
    const early = ahead.take(buffer, model, key);
    if (early !== false) return { row: early, companions: [] };
    const found = await findOne({ model, key });
    // A token's or code's person came along: kept for the request's account lookup.
    const others = found.companions.filter((c) => c.part === 'account');
    if (others.length === 0) return found;
    if (buffer) ahead.keepOthers(buffer, others);
    return { row: found.row, companions: found.companions.filter((c) => c.part !== 'account') };
  }

  /** A grant's rows deleted in the database: the request's held saves of them go too. */
  function droppedGrant(grantId: string, model?: string): void {
    writes.current()?.dropGrant(grantId, model);
    ahead.forgetAll(writes.current());
  }

  /** A save: held back inside a request that holds its writes, else batched with the turn's. */
  function save(a: ArtifactWrite, consumedAt: Date | null = null): Promise<void> {
    const held = writes.current();
    if (!held) return upsertOne(a);
    ahead.forget(held, a.model, a.key);
    held.save(a, consumedAt);
    return Promise.resolve();
  }

  return {
    // --- The adapter's statements: one per lookup on the token path ---------------------------

    /** The request-scoped write-behind (src/oidc/writeBehind.ts opens it around a request). */
    requestWrites: writes,

    /**
     * Saves an artefact; answered once the statement carrying it has committed (inside a request
     * that holds its writes back: once held, committed with the request's flush). `consumedAt`:
     * the row's consumption as the caller read it (a save leaves it as it is).
     */
    upsert: save,

    /** Saves several artefacts in one statement (with whatever else this turn saves). */
    async upsertMany(rows: ArtifactWrite[]): Promise<void> {
      if (writes.current()) for (const a of rows) await save(a);
      else await Promise.all(rows.map(upsertOne));
    },

    async find(model: string, key: string): Promise<ArtifactRow | undefined> {
      return (await findRow(model, key)).row;
    },

    /**
     * Reads `asks` (a login step's Interaction and Session, readAhead.ts) in one statement, with
     * the Grants they name, for the finds of the request in progress (none outside a request).
     */
    async readAhead(asks: AheadAsk[]): Promise<void> {
      const buffer = writes.current();
      if (!buffer) return;
      const found = await Promise.all(asks.map((a) => findOne({ ...a, ahead: true })));
      ahead.keep(buffer, asks, found);
    },

    /**
     * A token by key, asked for as `model` (AccessToken, ClientCredentials or RefreshToken); a
     * refresh token comes with its Grant and, when bound to a session, its Session. Introspection
     * asks for the three models of one value at once: they go out in the same statement.
     */
    findToken(model: string, key: string): Promise<WithCompanions> {
      return findRow(model, key);
    },

    /** An authorization code with its Grant and Session, as findToken. */
    findCode(key: string): Promise<WithCompanions> {
      return findRow('AuthorizationCode', key);
    },

    async findSessionByUid(uid: string): Promise<ArtifactRow | undefined> {
      const held = writes.current();
      const saved = held?.sessionByUid(uid);
      if (saved) return saved;
      const early = ahead.takeSession(held, uid);
      // Read ahead, and neither saved nor deleted by this request since (else as below).
      if (early && held?.lookup('Session', early.id) === undefined) return early;
      const row = (await rows(SQL.findByUid, [uid]))[0];
      // Deleted by this request, not yet in the database.
      if (row?.id !== undefined && held?.lookup('Session', row.id) === null) return undefined;
      return row;
    },

    async findByUserCode(model: string, userCodeKey: string): Promise<ArtifactRow | undefined> {
      return (await rows(SQL.findByUserCode, [model, userCodeKey]))[0];
    },

    /** Inserts a replay-detection entry; true when it is new (exactly one caller per id). */
    claimReplay(id: string, payload: object, expiresAt: Date): Promise<boolean> {
      return claimOne({ id, payload, expiresAt });
    },

    async findReplay(id: string): Promise<ArtifactRow | undefined> {
      return (await findRow('ReplayDetection', id)).row;
    },

    /**
     * Marks an artefact consumed; true for exactly one caller. Always at once (the single-use
     * guarantee): a row this request saved or deleted and still holds goes out first.
     */
    async consume(model: string, key: string): Promise<boolean> {
      const held = writes.current();
      ahead.forget(held, model, key);
      if (held?.has(model, key)) await writes.flushNow(held);
      const won = await consumeOne({ model, key });
      if (won) held?.consumed(model, key, new Date(options.clock.now()));
      return won;
    },

    /**
     * Revokes the grant of a consumed artefact that was presented again. Returns the grant id
     * when this call revoked it, undefined when there was none left to revoke.
     */
    async revokeReusedGrant(model: string, key: string): Promise<string | undefined> {
      const [row] = await rows(SQL.revokeReused, [model, key]);
      if (row?.id) droppedGrant(row.id);
      return row?.id;
    },

    async destroy(model: string, key: string): Promise<void> {
      const held = writes.current();
      ahead.forget(held, model, key);
      if (held) held.destroy(model, key);
      else await run(SQL.destroy, [model, key]);
    },

    async revokeByGrantId(model: string, grantId: string): Promise<void> {
      droppedGrant(grantId, model);
      await run(SQL.revokeByGrantId, [model, grantId]);
    },

    ...maintenance,

    /**
     * A person's live Grants; read ahead with a login step's Interaction when it has a login
     * result and no consent yet (consent given in another session, src/oidc/rememberedGrant.ts).
     */
    async grantsOf(accountId: string): Promise<{ id: string; payload: object }[]> {
      const early = ahead.takeOther(writes.current(), 'account_grants', accountId);
      if (Array.isArray(early)) return early as { id: string; payload: object }[];
      return maintenance.grantsOf(accountId);
    },

    /**
     * What was read ahead of another store (src/db/aheadReads.ts) for the request in progress:
     * `take` gives a row once (its JSON, `null` when looked for and absent, `false` when not read
     * ahead); `forget` drops every row of that store (it wrote).
     */
    aheadOf(kind: 'account' | 'progress'): AheadRowsOfStore {
      return {
        take(key) {
          const early = ahead.takeOther(writes.current(), kind, key);
          return Array.isArray(early) ? false : early;
        },
        forget: () => ahead.forgetOthers(writes.current(), kind),
      };
    },

    /** The browser and system a session signed in from: a row of its own, saved as artefacts are. */
    noteSessionDevice(
      uid: string,
      accountId: string,
      device: { browser?: string | undefined; system?: string | undefined },
      expiresAt: Date,
    ): Promise<void> {
      return save({
        model: SESSION_DEVICE,
        key: uid,
        payload: device,
        grantId: null,
        sessionUid: uid,
        userCode: null,
        accountId,
        clientId: null,
        expiresAt,
      });
    },
  };
}

export type ArtifactStore = ReturnType<typeof createArtifactStore>;

/** Maintenance functions that only read (any other may delete rows a request read ahead). */
const MAINTENANCE_READS = new Set(['grantsOf', 'sessionsOf']);
