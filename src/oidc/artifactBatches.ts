// The request-path statements of oidc_artifacts in their batched form (artifactStore.ts owns the
// table and calls these): the finds, saves, consumes and replay claims of one event-loop turn go
// out as one statement of each kind, with `unnest` over one array per column.
import type { Clock } from '../clock.ts';
import type { AheadReads } from '../db/aheadReads.ts';
import { type RunStatement, type Statement, statement } from '../db/prepared.ts';
import type { StatementPart } from '../db/together.ts';
import { LIVE_GRANTS_OF } from './artifactMaintenance.ts';
import type { ArtifactRow, ArtifactWrite } from './artifactStore.ts';
import type { BufferedWrite, HeldUnit } from './requestWrites.ts';

/** Models read with their Grant and (when bound to one) their Session in the same statement. */
const OWNERS = "('RefreshToken', 'AuthorizationCode')";

/** Saves rows of distinct keys, one array per column (the parameters of `rowColumns`). */
const UPSERT_ROWS = `insert into oidc_artifacts (model, id, payload, grant_id, session_uid, user_code, account_id, client_id, expires_at)
     select model, id, payload::jsonb, grant_id, session_uid, user_code, account_id, client_id, expires_at
     from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::timestamptz[])
       as r(model, id, payload, grant_id, session_uid, user_code, account_id, client_id, expires_at)
     on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id,
       session_uid = excluded.session_uid, user_code = excluded.user_code,
       account_id = excluded.account_id, client_id = excluded.client_id,
       expires_at = excluded.expires_at`;

/** The parameters of UPSERT_ROWS for `rows`. */
function rowColumns(rows: ArtifactWrite[]): unknown[][] {
  const column = <T>(pick: (w: ArtifactWrite) => T) => rows.map(pick);
  return [
    column((w) => w.model),
    column((w) => w.key),
    column((w) => w.payloadJson ?? JSON.stringify(w.payload)),
    column((w) => w.grantId),
    column((w) => w.sessionUid),
    column((w) => w.userCode),
    column((w) => w.accountId),
    column((w) => w.clientId),
    column((w) => w.expiresAt),
  ];
}

/** Deletes rows by key: the parameters are one array of models and one of ids. */
const DELETE_ROWS = `delete from oidc_artifacts a using unnest(?::text[], ?::text[]) as k(model, id)
     where a.model = k.model and a.id = k.id`;

/**
 * The held-back writes of requests flushed together, one per key: a key written by several keeps
 * its last write (a statement must touch each row once). The parameters of DELETE_ROWS, then of
 * UPSERT_ROWS.
 */
function writeColumns(writes: BufferedWrite[]): { gone: unknown[][]; saved: unknown[][] } {
  const last = new Map<string, BufferedWrite>();
  for (const w of writes) {
    const [model, key] = w.kind === 'save' ? [w.write.model, w.write.key] : [w.model, w.key];
    const k = `${model}\u0000${key}`;
    last.delete(k);
    last.set(k, w);
  }
  const gone: { model: string; key: string }[] = [];
  const rows: ArtifactWrite[] = [];
  for (const w of last.values()) {
    if (w.kind === 'save') rows.push(w.write);
    else gone.push(w);
  }
  return { gone: [gone.map((g) => g.model), gone.map((g) => g.key)], saved: rowColumns(rows) };
}

/**
 * A request's held-back writes as parts of a statement of several stores (src/db/together.ts):
 * its deletes, then its saves.
 */
export function writeParts(writes: BufferedWrite[]): StatementPart[] {
  const { gone, saved } = writeColumns(writes);
  return [
    { sql: DELETE_ROWS, bindings: gone as never[] },
    { sql: UPSERT_ROWS, bindings: saved as never[] },
  ];
}

/**
 * Every row asked for (`n` is the asker's place), and for a refresh token or code its Grant
 * and, if it expires with a session, that Session: what the provider always reads next. An ask
 * made `ahead` (readAhead.ts: a login step's Session and Interaction) brings the Grants its row
 * names: a Session's `authorizations`, an Interaction's grantId and consented grantId.
 * With `reads` (src/db/aheadReads.ts), other stores' rows come too, each as one jsonb payload:
 * - 'account': the person a token, code or read-ahead row names (its accountId, an Interaction's
 *   session and login result), for findAccount and the consent page;
 * - 'progress': a read-ahead Interaction's login progress (null when none), for the second factor;
 * - 'account_grants': when a read-ahead Interaction has a login result and no consent yet, the
 *   person's live Grants as one array (grants.reusable: consent given in another session).
 */
function findStatement(reads: AheadReads | undefined): Statement {
  // The login progress of each read-ahead Interaction (its key is the progress's), and every
  // person a row names: its accountId, an Interaction's session and login result, or the
  // person its login progress is for (a login between its factors).
  const othersCtes = reads
    ? `,
     progress as (
       select t.n, t.id, ${reads.progress('t.id', '(select now from at_time)')} as payload
       from t where t.ahead and t.model = 'Interaction'),
     people as (
       select distinct t.n, v.id from t cross join lateral (values (t.payload->>'accountId'),
         (t.payload#>>'{session,accountId}'), (t.payload#>>'{result,login,accountId}'),
         ((select p.payload->>'user_id' from progress p where p.n = t.n and p.id = t.id))) v(id)
       where v.id is not null and (t.ahead or t.model in ${OWNERS}))`
    : '';
  const others = reads
    ? `
     union all
     select people.n, c.id, null, c.payload, null, 'account' from people
       cross join lateral (${reads.account('people.id')}) c
     union all
     select n, id, null, payload, null, 'progress' from progress
     union all
     select t.n, t.payload#>>'{result,login,accountId}', null,
       coalesce((select jsonb_agg(jsonb_build_object('id', g.id, 'payload', g.payload))
         from oidc_artifacts g
         where ${LIVE_GRANTS_OF("t.payload#>>'{result,login,accountId}'", '(select now from at_time)')}),
         '[]'::jsonb),
       null, 'account_grants'
       from t where t.ahead and t.model = 'Interaction'
         and t.payload#>>'{result,login,accountId}' is not null
         and t.payload#>'{result,consent}' is null`
    : '';
  return statement(
    'oidc_artifact_find_batch',
    `with at_time as (select ?::timestamptz as now),
     k as (
       select model, id, ahead, n::int
       from unnest(?::text[], ?::text[], ?::boolean[]) with ordinality as k(model, id, ahead, n)),
     t as (
       select k.n, k.ahead, a.model, a.id, a.session_uid, a.payload, a.consumed_at, a.grant_id
       from k join oidc_artifacts a on a.model = k.model and a.id = k.id)${othersCtes}
     select n, id, session_uid, payload, consumed_at, 'self' as part from t
     union all
     select t.n, g.id, null, g.payload, g.consumed_at, 'grant' from t join oidc_artifacts g
       on t.model in ${OWNERS} and g.model = 'Grant' and g.id = t.grant_id
     union all
     select t.n, s.id, s.session_uid, s.payload, s.consumed_at, 'session' from t join oidc_artifacts s
       on t.model in ${OWNERS} and t.payload->>'expiresWithSession' = 'true'
       and s.model = 'Session' and s.session_uid = t.payload->>'sessionUid'
     union all
     select t.n, g.id, null, g.payload, g.consumed_at, 'grant' from t
       cross join lateral (
         select e.value->>'grantId' as id
         from jsonb_each(case when t.model = 'Session'
           and jsonb_typeof(t.payload->'authorizations') = 'object'
           then t.payload->'authorizations' else '{}'::jsonb end) as e
         union select t.payload->>'grantId' where t.model = 'Interaction'
         union select t.payload#>>'{result,consent,grantId}' where t.model = 'Interaction') named
       join oidc_artifacts g on g.model = 'Grant' and g.id = named.id
       where t.ahead${others}`,
  );
}

const SQL = {
  /** Saves; the rows have distinct keys (a key saved twice in one turn keeps its last save). */
  upsert: statement('oidc_artifact_upsert_batch', UPSERT_ROWS),
  /**
   * The writes requests held back (requestWrites.ts): deletes and saves of distinct keys in one
   * statement, so all of a request's writes commit together.
   */
  write: statement(
    'oidc_artifact_write_batch',
    `with gone as (${DELETE_ROWS} returning 1)
     ${UPSERT_ROWS}`,
  ),
  /** Marks unconsumed rows consumed; a row comes back only to the statement that consumed it. */
  consume: statement(
    'oidc_artifact_consume_batch',
    `update oidc_artifacts a set consumed_at = ?
     from unnest(?::text[], ?::text[]) as k(model, id)
     where a.model = k.model and a.id = k.id and a.consumed_at is null
     returning a.model, a.id`,
  ),
  /** Replay-detection entries; an id comes back only to the statement that inserted it. */
  claim: statement(
    'oidc_replay_claim_batch',
    `insert into oidc_artifacts (model, id, payload, expires_at)
     select 'ReplayDetection', id, payload::jsonb, expires_at
     from unnest(?::text[], ?::text[], ?::timestamptz[]) as r(id, payload, expires_at)
     on conflict (model, id) do nothing returning id`,
  ),
};

export interface FindAsk {
  model: string;
  key: string;
  /** A read-ahead (readAhead.ts): a Session or Interaction comes with the Grants it names. */
  ahead?: boolean;
}

/** A row found, with what was read ahead with it (empty unless a token, code or read-ahead). */
export interface Found {
  row: ArtifactRow | undefined;
  companions: ArtifactRow[];
}

export interface ReplayClaim {
  id: string;
  payload: object;
  expiresAt: Date;
}

type FoundRow = ArtifactRow & { n: number };

/** The first index of each distinct key: later asks of the same key in a batch lose to it. */
function firstOf<T>(items: T[], keyOf: (item: T) => string): Map<string, number> {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    if (!first.has(keyOf(item))) first.set(keyOf(item), i);
  });
  return first;
}

export function artifactBatches(run: RunStatement, clock: Clock, reads?: AheadReads) {
  const find = findStatement(reads);
  /** The write statement ending in the audit log's append (whose SQL is the same every call). */
  const auditedWrites = new Map<string, Statement>();
  function audited(appendSql: string): Statement {
    let s = auditedWrites.get(appendSql);
    if (!s) {
      s = statement(
        `oidc_artifact_write_audited_${auditedWrites.size}`,
        `with gone as (${DELETE_ROWS} returning 1), saved as (${UPSERT_ROWS} returning 1) ${appendSql}`,
      );
      auditedWrites.set(appendSql, s);
    }
    return s;
  }

  return {
    /** One row per ask (each its own copy, even when two ask for the same key). */
    async find(asks: FindAsk[]): Promise<Found[]> {
      const { rows } = await run<FoundRow>(find, [
        new Date(clock.now()),
        asks.map((a) => a.model),
        asks.map((a) => a.key),
        asks.map((a) => a.ahead === true),
      ]);
      const found: Found[] = asks.map(() => ({ row: undefined, companions: [] }));
      for (const { n, ...row } of rows) {
        const entry = found[n - 1]!;
        if (row.part === 'self') entry.row = row;
        else entry.companions.push(row);
      }
      return found;
    },

    async upsert(writes: ArtifactWrite[]): Promise<undefined[]> {
      // The last save of a key in the turn is the one that stays, as if they had run in order.
      const last = new Map<string, ArtifactWrite>();
      for (const w of writes) last.set(`${w.model}\u0000${w.key}`, w);
      await run(SQL.upsert, rowColumns([...last.values()]));
      return writes.map(() => undefined);
    },

    /**
     * The held-back writes of each request of the turn, and the audit events they carry, in one
     * statement: the events of all of them in one append, the last part (after the writes).
     * Units with parts of other stores never come here (artifactStore.ts sends each alone).
     */
    async write(units: HeldUnit[]): Promise<undefined[]> {
      const { gone, saved } = writeColumns(units.flatMap((u) => u.writes));
      const events = units.flatMap((u) => u.events);
      const append = units.find((u) => u.events.length > 0)?.append;
      if (events.length === 0 || !append) await run(SQL.write, [...gone, ...saved]);
      else {
        const tail = append(events);
        await run(audited(tail.sql), [...gone, ...saved, ...tail.bindings]);
      }
      return units.map(() => undefined);
    },

    /** True for exactly one ask of each unconsumed key, the first of the batch. */
    async consume(asks: FindAsk[]): Promise<boolean[]> {
      const { rows } = await run<{ model: string; id: string }>(SQL.consume, [
        new Date(clock.now()),
        asks.map((a) => a.model),
        asks.map((a) => a.key),
      ]);
      const keyOf = (a: { model: string; key: string }) => `${a.model}\u0000${a.key}`;
      const first = firstOf(asks, keyOf);
      const won = new Set(rows.map((r) => first.get(keyOf({ model: r.model, key: r.id }))));
      return asks.map((_, i) => won.has(i));
    },

    /** True for exactly one claim of each new id, the first of the batch. */
    async claim(claims: ReplayClaim[]): Promise<boolean[]> {
      const first = firstOf(claims, (c) => c.id);
      const unique = [...first.values()].map((i) => claims[i]!);
      const { rows } = await run<{ id: string }>(SQL.claim, [
        unique.map((c) => c.id),
        unique.map((c) => JSON.stringify(c.payload)),
        unique.map((c) => c.expiresAt),
      ]);
      const won = new Set(rows.map((r) => first.get(r.id)));
      return claims.map((_, i) => won.has(i));
    },
  };
}
