// Group commit for one instance: events recorded while an append transaction is in flight are
// appended together in the next one, so throughput is not capped at one commit per event.
import { type AuditRow, hashEvent } from './chain.ts';
import type { EventFields } from './event.ts';
import type { AuditStore } from './store.ts';

/** Most events per transaction: keeps each one short, and its insert statement small. */
const MAX_BATCH = 100;

interface Pending {
  fields: EventFields;
  resolve(): void;
  reject(err: unknown): void;
}

/** Chains `fields` onto `head`, in order: each row's prev_hash is the hash of the row before. */
export function chainRows(head: { seq: number; hash: string }, fields: EventFields[]): AuditRow[] {
  const rows: AuditRow[] = [];
  let prev = head;
  for (const f of fields) {
    const unsigned = { ...f, seq: prev.seq + 1, prev_hash: prev.hash };
    const row = { ...unsigned, hash: hashEvent(unsigned) };
    rows.push(row);
    prev = row;
  }
  return rows;
}

/**
 * Returns `append(fields)`, resolved once the event is committed. The appender lives in the
 * closure of one audit log (one per app), never at module level. Every appender takes the same
 * database lock per transaction, so appenders of other instances interleave whole batches.
 * Events of this instance keep the order in which they were recorded. When a transaction fails,
 * every event of its batch is rejected with the error, and nothing of the batch is written.
 */
export function createAppender(store: AuditStore): (fields: EventFields) => Promise<void> {
  const queue: Pending[] = [];
  let draining = false;

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_BATCH);
      try {
        await store.append((head) =>
          chainRows(
            head,
            batch.map((p) => p.fields),
          ),
        );
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    draining = false;
  }

  return (fields) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ fields, resolve, reject });
      if (draining) return;
      draining = true;
      // Start on the next turn of the event loop, so events recorded together (callers that
      // were all waiting for the previous batch) go in one transaction, not one each.
      setImmediate(drain);
    });
}
