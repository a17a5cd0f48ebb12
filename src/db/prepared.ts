// Hot single-statement queries as named prepared statements on a pooled pg connection, past
// knex's query builder: PostgreSQL parses and plans each one once per connection, and no knex
// objects are built per query. Only on a real PostgreSQL server: the embedded database serves
// one session to every client, where statement names would collide, so it keeps knex.raw.
import type { Knex } from 'knex';
import pg from 'pg';

export interface Statement {
  name: string;
  /** The SQL with `?` placeholders (knex.raw form). */
  sql: string;
  /** The same with `$1`, `$2`... (PostgreSQL form). */
  text: string;
}

/** Names a statement; `sql` uses `?` placeholders and no `?` operator. */
export function statement(name: string, sql: string): Statement {
  let n = 0;
  return { name, sql, text: sql.replace(/\?/g, () => `$${++n}`) };
}

export type RunStatement = <R>(
  statement: Statement,
  values: readonly unknown[],
) => Promise<{ rows: R[]; rowCount: number }>;

interface PooledClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

export function statementRunner(knex: Knex, { prepared }: { prepared: boolean }): RunStatement {
  const pool = knex.client as PooledClient;
  const viaKnex: RunStatement = async (s, values) => {
    const result = (await knex.raw(s.sql, values as Knex.RawBinding[])) as {
      rows: never[];
      rowCount?: number;
      affectedRows?: number;
    };
    return { rows: result.rows, rowCount: result.rowCount ?? result.affectedRows ?? 0 };
  };
  if (!prepared) return viaKnex;
  return async (s, values) => {
    const connection = await pool.acquireConnection();
    if (!(connection instanceof pg.Client)) {
      await pool.releaseConnection(connection);
      return viaKnex(s, values);
    }
    try {
      const result = await connection.query({
        name: s.name,
        text: s.text,
        values: values as unknown[],
      });
      return { rows: result.rows as never[], rowCount: result.rowCount ?? 0 };
    } finally {
      await pool.releaseConnection(connection);
    }
  };
}
