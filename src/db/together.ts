// Writes of one request that follow each other, sent as one statement: each store still writes
// its own SQL (a part), and this only joins the parts as data-modifying CTEs of one statement,
// so they commit together, in one round trip (issue 14: sign-ins in far fewer statements).
import type { Knex } from 'knex';

/**
 * One statement of a store, with `?` placeholders: an insert, update or delete without a WITH
 * of its own (PostgreSQL allows data-modifying CTEs only at the top level), or, as the last
 * part, a select. Parts of one statement see the same snapshot: they must touch different rows.
 * A binding may be an array (knex.raw passes it as a PostgreSQL array, for `?::text[]`).
 */
export interface StatementPart {
  sql: string;
  bindings: readonly Knex.RawBinding[];
}

/**
 * Writes of other stores and audit events that commit with a request's held-back
 * writes (src/oidc/requestWrites.ts), in its one statement.
 * `events` are the audit log's to read: `append(events)` is its statement that appends them, the
 * last part of the statement (src/audit/store.ts); events of requests flushed together are appended
 * in one call. `committed` runs once the statement has committed; when it failed, `failed`
 * says so (a log line) and returns the error the request fails with, when it should not fail
 * with the statement's own (an audit event not written: the audit log is unavailable).
 */
export interface Alongside {
  parts: StatementPart[];
  events: unknown[];
  append: (events: unknown[]) => StatementPart;
  committed: () => void;
  failed: (err: unknown) => unknown;
}

/** A request that holds its writes back to one statement, which more writes may join. */
export interface HeldRequest {
  alongside(entry: Alongside): void;
}

/** A knex query (insert, update, delete) as a part, for stores that build their SQL with knex. */
export function partOf(query: Knex.QueryBuilder): StatementPart {
  const { sql, bindings } = query.toSQL();
  return { sql, bindings };
}

/**
 * Runs `writes` (each executed exactly once, whether read or not) and `last` (a select, or an
 * insert, update or delete) as one statement; returns the rows of `last`. All of it commits, or
 * none of it.
 */
export async function runTogether<Row = Record<string, unknown>>(
  knex: Knex,
  writes: readonly StatementPart[],
  last: StatementPart = { sql: 'select 1', bindings: [] },
): Promise<Row[]> {
  const ctes = writes.map((part, n) => `w${n} as (${part.sql})`).join(', ');
  if (writes.length === 0) return rows<Row>(await knex.raw(last.sql, [...last.bindings]));
  const bindings = [...writes.flatMap((part) => part.bindings), ...last.bindings];
  return rows<Row>(await knex.raw(`with ${ctes} ${last.sql}`, bindings));
}

const rows = <Row>(result: unknown): Row[] => (result as { rows: Row[] }).rows;
