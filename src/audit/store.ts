// SQL for audit_events and audit_chain_head; only the audit log touches these tables.
import type { Knex } from 'knex';
import { runTogether, type StatementPart } from '../db/together.ts';
import { type AuditRow, eventBody } from './chain.ts';
import type { ActorType, EventFields } from './event.ts';
import type { ChainHead } from './verify.ts';

export interface RowFilter {
  since?: Date;
  until?: Date;
  actorType?: ActorType;
  actorId?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  /** Only events with a seq above this one. */
  after?: number;
}

const HEAD_MISSING = 'the audit chain head is missing: run "portcullis audit verify"';

type DbRow = Omit<AuditRow, 'seq'> & { seq: number | string };

// pg is told to parse bigint as a number (src/db/connect.ts); this keeps seq a number regardless.
const fromDb = (row: DbRow): AuditRow => ({ ...row, seq: Number(row.seq) });

/** The append of `events` as one select of audit_append (its JSON: each event and its body). */
export function appendPart(events: EventFields[]): StatementPart {
  const payload = events.map((e) => ({
    ...e,
    occurred_at: e.occurred_at.toISOString(),
    body: eventBody(e),
  }));
  return { sql: 'select audit_append(?::jsonb)', bindings: [JSON.stringify(payload)] };
}

/**
 * True when a statement failed inside audit_append (PostgreSQL's error context names the function
 * for its own errors and those of the inserts it makes): the audit log refused, not the rest.
 */
export const failedInAppend = (err: unknown): boolean =>
  /\baudit_append\(/.test(String((err as { where?: unknown })?.where ?? ''));

/** knex prefixes the SQL; the function's own message is the one to report. */
function appendError(err: unknown): unknown {
  return String((err as Error).message).includes(HEAD_MISSING) ? new Error(HEAD_MISSING) : err;
}

export function createAuditStore(knex: Knex) {
  return {
    /**
     * Appends events, in order, in one statement: the database function audit_append takes the
     * chain head's row lock, hashes each event onto the one before and moves the head, so
     * appenders of every instance form one chain. All of the batch is written or none of it.
     */
    async append(events: EventFields[]): Promise<void> {
      if (events.length === 0) return;
      const part = appendPart(events);
      try {
        await knex.raw(part.sql, [...part.bindings]);
      } catch (err) {
        throw appendError(err);
      }
    },

    /**
     * Appends events in the same statement as `writes`, the writes of the request they record
     * (src/db/together.ts): the events and the writes commit together or not at all.
     */
    async appendWith(events: EventFields[], writes: readonly StatementPart[]): Promise<void> {
      try {
        await runTogether(knex, writes, appendPart(events));
      } catch (err) {
        throw appendError(err);
      }
    },

    /**
     * Runs `read` in one read-only, repeatable-read transaction: the head and every batch of rows
     * come from the same snapshot, so events appended meanwhile neither show up past the head
     * (looking forged) nor move it.
     */
    async snapshot<T>(
      read: (chain: {
        head(): Promise<ChainHead | undefined>;
        rows(batchSize: number): AsyncGenerator<AuditRow>;
      }) => Promise<T>,
    ): Promise<T> {
      return knex.transaction(
        (trx) =>
          read({
            async head() {
              const head = await trx('audit_chain_head').where({ id: 1 }).first('seq', 'hash');
              return head ? { seq: Number(head.seq), hash: head.hash } : undefined;
            },
            async *rows(batchSize) {
              let after: number | undefined;
              for (;;) {
                const q = trx<DbRow>('audit_events').select('*').orderBy('seq').limit(batchSize);
                if (after !== undefined) q.where('seq', '>', after);
                const batch = (await q).map(fromDb);
                yield* batch;
                if (batch.length < batchSize) return;
                after = batch[batch.length - 1]!.seq;
              }
            },
          }),
        { isolationLevel: 'repeatable read', readOnly: true },
      );
    },

    /**
     * Up to `limit` events matching `filter`, in seq order. Seqs become visible in order (each
     * append commits before the next one takes the lock), so paging on `after` never skips an
     * event that was still being committed.
     */
    /** The newest `limit` events of these actions about one target, newest first. */
    async recentAbout(
      target: { type: string; id: string },
      actions: readonly string[],
      limit: number,
    ): Promise<AuditRow[]> {
      const rows = await knex<DbRow>('audit_events')
        .select('*')
        .where({ target_type: target.type, target_id: target.id })
        .whereIn('action', actions)
        .orderBy('seq', 'desc')
        .limit(limit);
      return rows.map(fromDb);
    },

    async find(filter: RowFilter, limit: number): Promise<AuditRow[]> {
      const q = knex<DbRow>('audit_events').select('*').orderBy('seq').limit(limit);
      if (filter.since) q.where('occurred_at', '>=', filter.since);
      if (filter.until) q.where('occurred_at', '<', filter.until);
      if (filter.actorType) q.where('actor_type', filter.actorType);
      if (filter.actorId) q.where('actor_id', filter.actorId);
      if (filter.action) q.where('action', filter.action);
      if (filter.targetType) q.where('target_type', filter.targetType);
      if (filter.targetId) q.where('target_id', filter.targetId);
      if (filter.after !== undefined) q.where('seq', '>', filter.after);
      return (await q).map(fromDb);
    },
  };
}

export type AuditStore = ReturnType<typeof createAuditStore>;
