// Group commit for a store: the calls of one kind made in one turn of the event loop go to
// PostgreSQL as one statement, and each caller is answered from it once it has committed. Under
// load many requests reach the same statement in the same turn; alone, a call waits one turn.

/** What one call asked for, and how its caller is answered. */
interface Pending<I, R> {
  item: I;
  resolve(result: R): void;
  reject(err: unknown): void;
}

export interface TurnBatchOptions {
  /** Most items in one statement; a larger turn goes out as several, side by side. */
  max?: number;
}

/**
 * The error of a statement that failed because of what one row held (a constraint, a bad
 * value: SQLSTATE classes 22 and 23): the others in the batch deserve a try on their own. Other
 * errors (the connection, the server, a pool timeout) would have failed each caller alone too.
 */
function rowCanBeAtFault(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * Returns `call(item)`, answered by `run(items)` for every item asked in the same turn.
 * `run` returns one result per item, in order, as one statement (so all or none of it commits).
 * When it fails because of one row, each item is tried alone, so one bad row fails only its
 * own caller, with the error it would have had alone. Never a cache: a turn's answers are
 * given once and forgotten.
 */
export function turnBatch<I, R>(
  run: (items: I[]) => Promise<R[]>,
  options: TurnBatchOptions = {},
): (item: I) => Promise<R> {
  const max = options.max ?? 500;
  let queue: Pending<I, R>[] = [];

  async function send(batch: Pending<I, R>[]): Promise<void> {
    try {
      const results = await run(batch.map((p) => p.item));
      for (const [i, p] of batch.entries()) p.resolve(results[i] as R);
    } catch (err) {
      if (batch.length === 1 || !rowCanBeAtFault(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      // Nothing of the failed statement was written: each row again, on its own.
      await Promise.all(batch.map((p) => send([p])));
    }
  }

  function flush(): void {
    const turn = queue;
    queue = [];
    for (let i = 0; i < turn.length; i += max) void send(turn.slice(i, i + max));
  }

  return (item) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      // After this turn's I/O callbacks (setImmediate's check phase): the requests whose data
      // arrived together have all asked by then.
      if (queue.length === 1) setImmediate(flush);
    });
}
