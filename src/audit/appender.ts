// Group commit for one instance: events recorded while an append is in flight are appended
// together in the next one, so throughput is not capped at one commit per event.
import type { EventFields } from './event.ts';
import type { AuditStore } from './store.ts';

/** Most events per append: keeps each statement (and its hold on the chain head) short. */
const MAX_BATCH = 100;

interface Pending {
  fields: EventFields;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Returns `append(fields)`, resolved once the event is committed. The appender lives in the
 * closure of one audit log (one per app), never at module level. Every batch takes the chain
 * head's row lock for one statement, so appenders of other instances interleave whole batches.
 * Events of this instance keep the order in which they were recorded. When a batch fails,
 * every event of it is rejected with the error, and nothing of the batch is written.
 */
export function createAppender(store: AuditStore): (fields: EventFields) => Promise<void> {
  const queue: Pending[] = [];
  let draining = false;

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_BATCH);
      try {
        await store.append(batch.map((p) => p.fields));
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
      // were all waiting for the previous batch) go in one append, not one each.
      setImmediate(drain);
    });
}
