// Walks the chain in seq order and names the first event at fault: altered, inserted, deleted,
// or deleted at the end (truncated). Pure logic over rows read elsewhere, so it is easy to test.
import { type AuditRow, GENESIS_HASH, hashEvent } from './chain.ts';

export type VerifyProblem = 'altered' | 'inserted' | 'deleted' | 'truncated';

export type VerifyResult =
  | { ok: true; count: number }
  | { ok: false; seq: number; problem: VerifyProblem; message: string };

type Fault = Extract<VerifyResult, { ok: false }>;

export interface ChainHead {
  seq: number;
  hash: string;
}

const altered = (seq: number, why = ''): Fault => ({
  ok: false,
  seq,
  problem: 'altered',
  message: `audit chain broken at event #${seq}: its content was altered${why}`,
});

const inserted = (seq: number, where: string): Fault => ({
  ok: false,
  seq,
  problem: 'inserted',
  message: `audit chain broken at event #${seq}: it was inserted ${where}`,
});

const deleted = (first: number, last: number, renumbered = false): Fault => ({
  ok: false,
  seq: first,
  problem: 'deleted',
  message: `audit chain broken: ${
    first === last ? `event #${first} was deleted` : `events #${first} to #${last} were deleted`
  }${renumbered ? ' (later events were renumbered)' : ''}`,
});

const truncated = (lastKept: number, lastRecorded: number): Fault => ({
  ok: false,
  seq: lastKept + 1,
  problem: 'truncated',
  message: `audit chain broken: events after #${lastKept} were deleted (${
    lastRecorded === lastKept + 1 ? `#${lastRecorded}` : `#${lastKept + 1} to #${lastRecorded}`
  })`,
});

/** The hash `row` would have if it had been appended with another seq. */
const hashAt = (row: AuditRow, seq: number) => hashEvent({ ...row, seq });

/**
 * Verifies `rows` (every event, in seq order) against `head` (the audit_chain_head row, undefined
 * when it is missing). Each row is judged with the one after it in hand, which tells an event
 * slipped in (its successor links past it) from one that was changed.
 */
export async function verifyChain(
  rows: AsyncIterable<AuditRow>,
  head: ChainHead | undefined,
): Promise<VerifyResult> {
  // The last event found intact and in place; event #0 is the genesis.
  let good: ChainHead = { seq: 0, hash: GENESIS_HASH };
  // With no head every seq is plausible; the missing head is reported at the end.
  const headSeq = head?.seq ?? Number.POSITIVE_INFINITY;

  function check(row: AuditRow, next: AuditRow | undefined): Fault | undefined {
    const expected = good.seq + 1;
    // Seqs start at 1 and are unique, so only a forged event can come before the expected one.
    if (row.seq < expected) return inserted(row.seq, `before event #${expected}`);
    // Every appended event moves the head; one past the head was written some other way.
    if (expected > headSeq) return inserted(row.seq, `after the last recorded event #${headSeq}`);
    if (row.seq > expected) return deleted(expected, Math.min(row.seq - 1, headSeq));

    const selfOk = hashEvent(row) === row.hash;
    const linkOk = row.prev_hash === good.hash;
    if (selfOk && linkOk) {
      good = { seq: row.seq, hash: row.hash };
      return undefined;
    }
    // The next event links to the last intact one: this one was slipped in between them.
    if (next && next.prev_hash === good.hash) return inserted(row.seq, `before event #${next.seq}`);
    if (!selfOk && good.seq > 0 && hashAt(row, row.seq - 1) === row.hash) {
      // A genuine event moved up one place: the (well-forged) event before it was inserted.
      return inserted(good.seq, `before event #${row.seq} (later events were renumbered)`);
    }
    if (!selfOk && hashAt(row, row.seq + 1) === row.hash) {
      // A genuine event moved down one place to close the gap left by a deletion.
      return deleted(row.seq, row.seq, true);
    }
    // Intact but no longer linked: the event before it was rewritten with a fresh hash.
    if (selfOk && good.seq > 0)
      return altered(good.seq, ` (event #${row.seq} no longer follows it)`);
    return altered(row.seq);
  }

  let pending: AuditRow | undefined;
  for await (const row of rows) {
    if (pending) {
      const fault = check(pending, row);
      if (fault) return fault;
    }
    pending = row;
  }
  if (pending) {
    const fault = check(pending, undefined);
    if (fault) return fault;
  }

  if (!head) {
    return {
      ok: false,
      seq: good.seq + 1,
      problem: 'truncated',
      message: `audit chain broken: its head record is missing, so events after #${good.seq} may have been deleted`,
    };
  }
  if (head.seq > good.seq) return truncated(good.seq, head.seq);
  if (head.hash !== good.hash) {
    return good.seq > 0
      ? altered(good.seq, ' (it no longer matches the chain head)')
      : {
          ok: false,
          seq: 0,
          problem: 'altered',
          message: 'audit chain broken: its head record was altered',
        };
  }
  return { ok: true, count: good.seq };
}
