// Counts what a process asks of PostgreSQL: round trips (one `query` call on a pooled
// connection, whatever it carries) and statements (each SQL statement in it). The bench shows
// them per request and a test holds the sign-in flows to a budget, so batching cannot creep back.

/** Running totals for one database handle; read them before and after the work to measure. */
export interface QueryCounter {
  roundTrips: number;
  statements: number;
}

export function createQueryCounter(): QueryCounter {
  return { roundTrips: 0, statements: 0 };
}

/**
 * Statements in one query text: a parameterised query is exactly one; a simple-protocol text
 * may hold several separated by `;` (ignoring those inside quotes, which our SQL does not use).
 */
export function statementsIn(text: string, parameterised: boolean): number {
  if (parameterised) return 1;
  const parts = text.split(';').filter((part) => part.trim() !== '');
  return Math.max(1, parts.length);
}

interface Queryable {
  query: (...args: unknown[]) => unknown;
}

/** Wraps `connection.query` once, so every call through it is counted in `counter`. */
export function countQueriesOf(connection: Queryable, counter: QueryCounter): void {
  const query = connection.query;
  connection.query = function countedQuery(this: unknown, ...args: unknown[]) {
    const [first, second] = args;
    const text = typeof first === 'string' ? first : ((first as { text?: string })?.text ?? '');
    const values =
      Array.isArray(second) || (typeof first === 'object' && first !== null && 'values' in first);
    counter.roundTrips += 1;
    counter.statements += statementsIn(text, values);
    return query.apply(this, args);
  };
}
