// Database work per request: Portcullis' own counters (round trips and statements sent over its
// pool, read from /metrics) and, when the server has pg_stat_statements loaded, PostgreSQL's
// count of statements executed in the bench database. Read before and after a measured round.
import type { Knex } from 'knex';

/** Running totals at one moment; a round's figures are the difference of two readings. */
export interface DbWork {
  roundTrips: number;
  statements: number;
  /** Statements PostgreSQL executed for the bench database (pg_stat_statements), if available. */
  pgStatements?: number;
}

/** Server memory as the process sees it at the end of a round (from prom-client's metrics). */
export interface ServerMemory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
}

export interface Scrape {
  work: DbWork;
  memory: ServerMemory | undefined;
}

/** The value of an unlabelled sample in Prometheus' text format, or undefined. */
export function sample(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

/** Reads Portcullis' /metrics (METRICS_PORT listener, loopback, no token). */
export async function scrapeMetrics(metricsUrl: string): Promise<Scrape> {
  const res = await fetch(metricsUrl);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${metricsUrl} answered ${res.status}`);
  const roundTrips = sample(text, 'portcullis_db_round_trips_total');
  const statements = sample(text, 'portcullis_db_statements_total');
  if (roundTrips === undefined || statements === undefined)
    throw new Error(`${metricsUrl} has no portcullis_db_* counters`);
  const rss = sample(text, 'process_resident_memory_bytes');
  const heapTotal = sample(text, 'nodejs_heap_size_total_bytes');
  const heapUsed = sample(text, 'nodejs_heap_size_used_bytes');
  const external = sample(text, 'nodejs_external_memory_bytes');
  const memory =
    rss !== undefined && heapTotal !== undefined && heapUsed !== undefined && external !== undefined
      ? { rss, heapTotal, heapUsed, external }
      : undefined;
  return { work: { roundTrips, statements }, memory };
}

/**
 * pg_stat_statements in the bench database when the server preloads it (it usually does not;
 * loading it needs a restart, which the bench never does): creates the extension in the bench
 * database (dropped with it) and returns a reader of the statements executed there so far,
 * leaving out the bench's own queries (this view and pg_stat_activity). Undefined otherwise.
 */
export async function pgStatementCounter(knex: Knex): Promise<(() => Promise<number>) | undefined> {
  const preload = (await knex.raw('show shared_preload_libraries')) as {
    rows: { shared_preload_libraries: string }[];
  };
  const libraries = preload.rows[0]?.shared_preload_libraries ?? '';
  if (!/(^|[\s,])pg_stat_statements([\s,]|$)/.test(libraries)) return undefined;
  try {
    await knex.raw('create extension if not exists pg_stat_statements');
  } catch {
    return undefined; // not installed, or no right to create it: skip
  }
  return async () => {
    const result = (await knex.raw(
      `select coalesce(sum(calls), 0)::bigint as calls from pg_stat_statements
        where dbid = (select oid from pg_database where datname = current_database())
          and query not like '%pg_stat_statements%' and query not like '%pg_stat_activity%'`,
    )) as { rows: { calls: string }[] };
    return Number(result.rows[0]?.calls ?? 0);
  };
}

/** What happened between two readings (pgStatements only when both have it). */
export function workBetween(before: DbWork, after: DbWork): DbWork {
  return {
    roundTrips: after.roundTrips - before.roundTrips,
    statements: after.statements - before.statements,
    ...(before.pgStatements !== undefined && after.pgStatements !== undefined
      ? { pgStatements: after.pgStatements - before.pgStatements }
      : {}),
  };
}

/** One reading of everything above for the server at `metricsUrl`. */
export function workReader(
  metricsUrl: string,
  pgStatements: (() => Promise<number>) | undefined,
): () => Promise<Scrape> {
  return async () => {
    const [scrape, pg] = await Promise.all([scrapeMetrics(metricsUrl), pgStatements?.()]);
    return {
      ...scrape,
      work: { ...scrape.work, ...(pg !== undefined ? { pgStatements: pg } : {}) },
    };
  };
}
