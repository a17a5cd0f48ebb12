// Writes of one request that follow each other, sent as one statement: each store still writes
// its own SQL (a part), and this only joins the parts as data-modifying CTEs of one statement,
// so they commit together, in one round trip (issue 14: sign-ins in far fewer statements).
import type { Knex } from 'knex';

/**
 * One statement of a store, with `?` placeholders: an insert, update or delete without a WITH
 * of its own (PostgreSQL allows data-modifying CTEs only at the top level), or, as the last
 * part, a select. Parts of one statement see the same snapshot: they must touch different rows.
 */
export interface StatementPart {
  sql: string;
  bindings: readonly Knex.RawBinding[];
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
  // knex.raw would expand an array binding into a list of placeholders: parts bind JSON instead.
  if ([...writes, last].some((part) => part.bindings.some(Array.isArray)))
    throw new TypeError('a statement part binds an array: bind it as JSON');
  const ctes = writes.map((part, n) => `w${n} as (${part.sql})`).join(', ');
  if (writes.length === 0) return rows<Row>(await knex.raw(last.sql, [...last.bindings]));
  const bindings = [...writes.flatMap((part) => part.bindings), ...last.bindings];
  return rows<Row>(await knex.raw(`with ${ctes} ${last.sql}`, bindings));
}

const rows = <Row>(result: unknown): Row[] => (result as { rows: Row[] }).rows;
