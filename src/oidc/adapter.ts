// oidc-provider's storage adapter over PostgreSQL: one row per artefact in oidc_artifacts.
// Bearer artefacts are keyed by SHA-256(id) and stored without their id, so a dump of the table
// yields no usable token; consume and replay detection are single atomic statements.
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { errors } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import { statement, statementRunner } from '../db/prepared.ts';
import { grantKey, recall, remember, sessionKey } from './prefetch.ts';

type Payload = Record<string, unknown>;

/** Models whose id is a bearer secret (a token, a code, a cookie value or a URL secret). */
export const HASHED_MODELS = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'ClientCredentials',
  'InitialAccessToken',
  'RegistrationAccessToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PushedAuthorizationRequest',
  'Session',
  'Interaction',
]);

/**
 * A reference to a bearer artefact by its hash. Payloads that point at another bearer artefact
 * (an Interaction's PAR) store this instead of the id; the adapter accepts it wherever an id goes.
 */
const HASH_REF = 'sha256:';

export function hashId(id: string): string {
  if (id.startsWith(HASH_REF)) return id.slice(HASH_REF.length);
  return createHash('sha256').update(id).digest('base64url');
}

const hashRef = (id: unknown) => (typeof id === 'string' ? `${HASH_REF}${hashId(id)}` : id);

/** Placeholder for the interaction id inside its stored returnTo URL. */
const UID_PLACEHOLDER = '{uid}';

export interface AdapterStore {
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
    `insert into oidc_artifacts (model, id, payload, grant_id, session_uid, user_code, account_id, expires_at)
     values (?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id,
       session_uid = excluded.session_uid, user_code = excluded.user_code,
       account_id = excluded.account_id, expires_at = excluded.expires_at`,
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
   * Grant and, when bound to a session, its Session (`part`): see prefetch.ts.
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

/** Rewrites a payload before it is stored: no bearer id stays in clear. */
function toStored(model: string, id: string, payload: Payload): Payload {
  const stored: Payload = { ...payload };
  delete stored.consumed;
  if (HASHED_MODELS.has(model)) delete stored.jti;
  if (model === 'Interaction') {
    if (typeof stored.returnTo === 'string')
      stored.returnTo = stored.returnTo.split(id).join(UID_PLACEHOLDER);
    if (stored.session && typeof stored.session === 'object') {
      // The session cookie value is not read back by the provider; never keep it.
      const { cookie: _cookie, ...session } = stored.session as Payload;
      stored.session = session;
    }
    if (stored.parJti) stored.parJti = hashRef(stored.parJti);
    if (stored.deviceCode) stored.deviceCode = hashRef(stored.deviceCode);
  }
  return stored;
}

/** Restores what toStored removed, from the id the provider passed in. */
function fromStored(
  model: string,
  id: string | undefined,
  payload: Payload,
  consumedAt: Date | null,
): Payload {
  const out: Payload = { ...payload };
  if (HASHED_MODELS.has(model) && id !== undefined) out.jti = id;
  if (model === 'Interaction' && id !== undefined && typeof out.returnTo === 'string') {
    out.returnTo = out.returnTo.split(UID_PLACEHOLDER).join(id);
  }
  if (consumedAt) out.consumed = Math.floor(consumedAt.getTime() / 1000);
  return out;
}

interface Row {
  payload: Payload;
  consumed_at: Date | null;
  id?: string;
  model?: string;
  /** findTokens and findCode: 'self', or the 'grant' / 'session' of the token. */
  part?: 'self' | 'grant' | 'session';
}

/** Keeps the Grant and Session that came with a token for the lookups that follow. */
function rememberCompanions(list: Row[], clone: boolean): void {
  for (const row of list) {
    if (row.part !== 'grant' && row.part !== 'session') continue;
    const key =
      row.part === 'grant'
        ? typeof row.payload.jti === 'string'
          ? grantKey(row.payload.jti)
          : undefined
        : typeof row.payload.uid === 'string'
          ? sessionKey(row.payload.uid)
          : undefined;
    if (key) {
      remember(key, {
        payload: clone ? structuredClone(row.payload) : row.payload,
        consumed_at: row.consumed_at,
      });
    }
  }
}

/**
 * Models the provider looks up together by one token value: introspection and revocation ask for
 * AccessToken, ClientCredentials and (without a hint) RefreshToken at once. Their finds for the
 * same value in the same tick are answered by one query instead of one each.
 */
const TOKEN_MODELS = new Set(['AccessToken', 'ClientCredentials', 'RefreshToken']);

/**
 * Lifetime of a replay-detection row from its claim (find). The save that follows sets the real
 * lifetime (the assertion's or proof's exp); when that is not longer than the claim's, the row
 * already protects long enough and the save is skipped: one statement per check instead of two.
 */
const REPLAY_CLAIM_SECONDS = 300;

export function createArtifactAdapter(store: AdapterStore) {
  const { clock } = store;
  const run = statementRunner(store.knex, { prepared: store.prepared ?? false });
  const rows = async (s: (typeof SQL)['find'], values: readonly unknown[]) =>
    (await run<Row>(s, values)).rows;
  const seconds = () => Math.floor(clock.now() / 1000);

  /** Replay-detection ids claimed by this instance, until when (epoch seconds), awaiting save. */
  const claimedUntil = new Map<string, number>();

  /** Token finds waiting for the end of the current tick, by hashed id. */
  const pendingTokenFinds = new Map<string, { models: string[]; found: Promise<Row[]> }>();

  function findTokenRow(model: string, key: string): Promise<Row | undefined> {
    let batch = pendingTokenFinds.get(key);
    if (!batch) {
      const models: string[] = [];
      const found = new Promise<Row[]>((resolve, reject) => {
        queueMicrotask(() => {
          pendingTokenFinds.delete(key);
          rows(SQL.findTokens[models.length - 1]!, [...models, key]).then(resolve, reject);
        });
      });
      batch = { models, found };
      pendingTokenFinds.set(key, batch);
    }
    // Two requests may look up the same token in the same tick: the model is asked once, and
    // every later asker gets its own copy of the payload.
    const first = !batch.models.includes(model);
    if (first) batch.models.push(model);
    return batch.found.then((list) => {
      const row = list.find((r) => r.model === model && r.part === 'self');
      if (row && model === 'RefreshToken') rememberCompanions(list, !first);
      return row && !first ? { ...row, payload: structuredClone(row.payload) } : row;
    });
  }

  return class ArtifactAdapter {
    readonly model: string;
    readonly hashed: boolean;

    constructor(model: string) {
      this.model = model;
      this.hashed = HASHED_MODELS.has(model);
    }

    key(id: string): string {
      return this.hashed ? hashId(id) : id;
    }

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      if (this.model === 'ReplayDetection') {
        const until = claimedUntil.get(id);
        claimedUntil.delete(id);
        if (until !== undefined && typeof expiresIn === 'number' && seconds() + expiresIn <= until)
          return;
      }
      const expiresAt =
        typeof expiresIn === 'number' ? new Date(clock.now() + expiresIn * 1000) : null;
      const grantId = typeof payload.grantId === 'string' ? payload.grantId : null;
      const sessionUid =
        this.model === 'Session' && typeof payload.uid === 'string' ? payload.uid : null;
      const userCode = typeof payload.userCode === 'string' ? hashId(payload.userCode) : null;
      const accountId = typeof payload.accountId === 'string' ? payload.accountId : null;
      await run(SQL.upsert, [
        this.model,
        this.key(id),
        JSON.stringify(toStored(this.model, id, payload)),
        grantId,
        sessionUid,
        userCode,
        accountId,
        expiresAt,
      ]);
    }

    async find(id: string): Promise<Payload | undefined> {
      if (this.model === 'ReplayDetection') return this.claim(id);
      if (TOKEN_MODELS.has(this.model)) {
        const row = await findTokenRow(this.model, this.key(id));
        return row ? fromStored(this.model, id, row.payload, row.consumed_at) : undefined;
      }
      if (this.model === 'AuthorizationCode') {
        const list = await rows(SQL.findCode, [this.key(id)]);
        const row = list.find((r) => r.part === 'self');
        if (row) rememberCompanions(list, false);
        return row ? fromStored(this.model, id, row.payload, row.consumed_at) : undefined;
      }
      const ahead = this.model === 'Grant' ? recall(grantKey(id)) : undefined;
      const [row] = ahead ? [ahead] : await rows(SQL.find, [this.model, this.key(id)]);
      return row ? fromStored(this.model, id, row.payload, row.consumed_at) : undefined;
    }

    /**
     * Replay detection: oidc-provider asks find(id) and saves when nothing is found. Doing the
     * insert here makes the check-and-set one statement, so of two instances that see the same
     * DPoP proof or client assertion jti at once, exactly one is told it is new.
     */
    private async claim(id: string): Promise<Payload | undefined> {
      const now = seconds();
      const provisional = { iat: now, exp: now + REPLAY_CLAIM_SECONDS, kind: 'ReplayDetection' };
      const inserted = await rows(SQL.claim, [
        id,
        JSON.stringify(provisional),
        new Date((now + REPLAY_CLAIM_SECONDS) * 1000),
      ]);
      if (inserted.length === 1) {
        // Bounded: an entry whose save never came (an error in between) must not pile up.
        if (claimedUntil.size >= 10_000) claimedUntil.clear();
        claimedUntil.set(id, now + REPLAY_CLAIM_SECONDS);
        return undefined;
      }
      const [row] = await rows(SQL.claimed, [id]);
      return { ...(row?.payload ?? provisional), jti: id };
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      // The session id is not stored, so the provider gets the session without it; it only reads
      // such a session (to check it still exists), never saves it.
      const ahead = recall(sessionKey(uid));
      const [row] = ahead ? [ahead] : await rows(SQL.findByUid, [uid]);
      return row ? fromStored(this.model, undefined, row.payload, row.consumed_at) : undefined;
    }

    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      const [row] = await rows(SQL.findByUserCode, [this.model, hashId(userCode)]);
      // The device code itself is not stored: hand back a reference the adapter understands.
      return row
        ? fromStored(this.model, `${HASH_REF}${row.id}`, row.payload, row.consumed_at)
        : undefined;
    }

    async consume(id: string): Promise<void> {
      const consumed = await rows(SQL.consume, [new Date(clock.now()), this.model, this.key(id)]);
      if (consumed.length === 0) {
        if (this.model === 'PushedAuthorizationRequest') {
          throw new errors.InvalidRequestUri(
            'request_uri is invalid, expired, or was already used',
          );
        }
        throw new errors.InvalidGrant(
          `${this.model === 'AuthorizationCode' ? 'authorization code' : 'grant'} already used`,
        );
      }
    }

    async destroy(id: string): Promise<void> {
      await run(SQL.destroy, [this.model, this.key(id)]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await run(SQL.revokeByGrantId, [this.model, grantId]);
    }
  };
}

/**
 * Deletes rows past expiry plus clock tolerance, `batchSize` at a time, so no statement holds
 * locks for long. Returns the number of rows deleted.
 */
export async function sweepExpired(
  store: AdapterStore,
  batchSize: number,
  maxBatches = 100,
): Promise<number> {
  const cutoff = new Date(store.clock.now() - store.clockToleranceSeconds * 1000);
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const result = (await store.knex.raw(
      `delete from oidc_artifacts where ctid in (
         select ctid from oidc_artifacts where expires_at < ? limit ? for update skip locked)`,
      [cutoff, batchSize],
    )) as { rowCount?: number; affectedRows?: number };
    const deleted = result.rowCount ?? result.affectedRows ?? 0;
    total += deleted;
    if (deleted < batchSize) break;
  }
  return total;
}
