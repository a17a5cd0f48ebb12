// SQL for client_rate_limits: each instance adds what it counted since its last sync and reads
// every live window's total in one statement, whatever the number of clients; never a query per
// request.
import type { Knex } from 'knex';

/** Requests of one client in one fixed window (epoch seconds, aligned to its length). */
export interface WindowCount {
  clientId: string;
  windowSeconds: number;
  windowStart: number;
  requests: number;
}

interface Row {
  client_id: string;
  window_seconds: number;
  window_start: string | number;
  requests: string | number;
}

export function createRateLimitStore(knex: Knex) {
  const rows = async <T>(sql: string, bindings: Knex.RawBinding[]) =>
    ((await knex.raw(sql, bindings)) as { rows: T[] }).rows;

  return {
    /**
     * Adds these counts and returns the totals of every window still running at `nowSeconds`
     * (those just added included). Rows are written in key order, so two instances syncing at
     * once cannot deadlock.
     */
    async sync(added: WindowCount[], nowSeconds: number): Promise<WindowCount[]> {
      const deltas = JSON.stringify(
        added.map((c) => ({
          client_id: c.clientId,
          window_seconds: c.windowSeconds,
          window_start: c.windowStart,
          requests: c.requests,
        })),
      );
      const result = await rows<Row>(
        `with deltas as (
           select * from json_to_recordset(cast(? as json))
             as d(client_id text, window_seconds integer, window_start bigint, requests bigint)
         ), added as (
           insert into client_rate_limits
             (client_id, window_seconds, window_start, window_end, requests)
           select client_id, window_seconds, window_start, window_start + window_seconds, requests
           from deltas order by client_id, window_seconds, window_start
           on conflict (client_id, window_seconds, window_start)
             do update set requests = client_rate_limits.requests + excluded.requests
           returning client_id, window_seconds, window_start, requests
         )
         select client_id, window_seconds, window_start, requests from added
         union all
         select c.client_id, c.window_seconds, c.window_start, c.requests
         from client_rate_limits c
         where c.window_end > ? and not exists (
           select 1 from deltas d
           where d.client_id = c.client_id and d.window_seconds = c.window_seconds
             and d.window_start = c.window_start)`,
        [deltas, nowSeconds],
      );
      return result.map((r) => ({
        clientId: r.client_id,
        windowSeconds: Number(r.window_seconds),
        windowStart: Number(r.window_start),
        requests: Number(r.requests),
      }));
    },

    /**
     * Claims the one audit event of a client's window: true for the first caller of any
     * instance, false for every later one.
     */
    async claimReport(clientId: string, windowSeconds: number, windowStart: number) {
      const claimed = await rows<{ client_id: string }>(
        `insert into client_rate_limits
           (client_id, window_seconds, window_start, window_end, requests, reported)
         values (?, ?, ?, ?, 0, true)
         on conflict (client_id, window_seconds, window_start)
           do update set reported = true where not client_rate_limits.reported
         returning client_id`,
        [clientId, windowSeconds, windowStart, windowStart + windowSeconds],
      );
      return claimed.length === 1;
    },

    /** Deletes windows that ended before `nowSeconds`. */
    sweep: (nowSeconds: number): Promise<number> =>
      knex('client_rate_limits').where('window_end', '<', nowSeconds).delete(),
  };
}

export type RateLimitStore = ReturnType<typeof createRateLimitStore>;
