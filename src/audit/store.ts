// SQL for audit_events and audit_chain_head; only the audit log touches these tables.
import type { Knex } from 'knex';
import type { AuditRow } from './chain.ts';
import type { ActorType } from './event.ts';
import type { ChainHead } from './verify.ts';

/** Any constant works as long as nothing else in the database locks on it ("pcau"). */
const AUDIT_LOCK_ID = 0x70636175;

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

type DbRow = Omit<AuditRow, 'seq'> & { seq: number | string };

// pg is told to parse bigint as a number (src/db/connect.ts); this keeps seq a number regardless.
const fromDb = (row: DbRow): AuditRow => ({ ...row, seq: Number(row.seq) });

export function createAuditStore(knex: Knex) {
  return {
    /**
     * Appends events in one transaction: `build` turns the current head into the new rows, in
     * chain order. It runs inside the transaction, so it must not query the database (the
     * embedded database has one connection, held by this transaction: a query elsewhere would
     * wait for ever).
     */
    async append(build: (head: ChainHead) => AuditRow[]): Promise<void> {
      await knex.transaction(
        async (trx) => {
          // Serialises appenders across every pool and every instance: each reads the head only
          // once the previous appender has committed, so seqs never collide and every prev_hash
          // is the hash of the event just before. Released by commit or rollback, never leaked.
          await trx.raw('select pg_advisory_xact_lock(?)', [AUDIT_LOCK_ID]);
          const head = await trx('audit_chain_head').where({ id: 1 }).first('seq', 'hash');
          if (!head)
            throw new Error('the audit chain head is missing: run "portcullis audit verify"');
          const rows = build({ seq: Number(head.seq), hash: head.hash });
          const last = rows[rows.length - 1];
          if (!last) return;
          await trx('audit_events').insert(rows);
          await trx('audit_chain_head').where({ id: 1 }).update({ seq: last.seq, hash: last.hash });
        },
        // Read committed takes a new snapshot per statement, so the head read after the lock is
        // the latest one. Under repeatable read the snapshot would predate the lock wait.
        { isolationLevel: 'read committed' },
      );
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
