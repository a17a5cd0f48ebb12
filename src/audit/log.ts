// The audit log service: records security events into the hash chain, verifies the chain, and
// reads events back (filtered pages, or a JSON Lines export) for people and for SIEM tools.
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import type { StatementPart } from '../db/together.ts';
import { asUnavailable, Unavailable } from '../db/unavailable.ts';
import { invalid } from '../errors.ts';
import { createAppender } from './appender.ts';
import type { AuditRow } from './chain.ts';
import {
  ACTOR_TYPES,
  type ActorType,
  type AuditEvent,
  type AuditEventInput,
  type EventFields,
  prepareEvent,
} from './event.ts';
import { AUDIT_KINDS, type AuditKinds } from './kinds.ts';
import { appendPart, createAuditStore, failedInAppend, type RowFilter } from './store.ts';
import { type VerifyResult, verifyChain } from './verify.ts';

export type { AuditEvent, AuditEventInput } from './event.ts';
export type { VerifyResult } from './verify.ts';

export interface AuditQuery {
  /** Events that occurred at or after this time. */
  since?: Date;
  /** Events that occurred before this time. */
  until?: Date;
  actorType?: ActorType;
  actorId?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  /** Keyset cursor: only events after this seq (the `next` of the previous page). */
  after?: number;
  /** Page size: default 100, at most 500. */
  limit?: number;
}

export interface AuditPage {
  events: AuditEvent[];
  /** Pass as `after` for the next page; undefined on the last page. */
  next: number | undefined;
}

export interface AuditLogDeps {
  knex: Knex;
  clock: Clock;
  /** Rows per query when verifying or exporting (default 1000; tests use small ones). */
  batchSize?: number;
  /** The kinds of event recorded and the details each may carry (default: kinds.ts). */
  kinds?: AuditKinds;
}

/** The kinds of event a person sees as their security activity on the account page. */
export const ACTIVITY = [
  'login.success',
  'login.failure',
  'account.locked',
  'mfa.failure',
  'mfa.enrolled',
  'mfa.removed',
  'recovery_code.used',
  'recovery_codes.regenerated',
  'logout.success',
  'user.password_set',
  'user.locked',
  'user.unlocked',
  'user.factors_reset',
  'user.sessions_revoked',
] as const;

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;
/** Rows per query when verifying or exporting: memory stays bounded however long the log is. */
const DEFAULT_BATCH = 1000;

function toEvent(row: AuditRow): AuditEvent {
  return {
    seq: row.seq,
    occurredAt: row.occurred_at,
    actor: { type: row.actor_type, id: row.actor_id },
    action: row.action,
    target:
      row.target_type !== null && row.target_id !== null
        ? { type: row.target_type, id: row.target_id }
        : null,
    outcome: row.outcome,
    sourceIp: row.source_ip,
    userAgent: row.user_agent,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** Checks a filter's values; throws DomainError naming the bad one. */
function rowFilter(filter: Omit<AuditQuery, 'limit'>): RowFilter {
  for (const field of ['since', 'until'] as const) {
    const value = filter[field];
    if (value !== undefined && !(value instanceof Date && Number.isFinite(value.getTime())))
      throw invalid(`${field} must be a valid date`, field);
  }
  if (filter.actorType !== undefined && !ACTOR_TYPES.includes(filter.actorType))
    throw invalid(`actor type must be one of ${ACTOR_TYPES.join(', ')}`, 'actorType');
  if (filter.after !== undefined && !(Number.isSafeInteger(filter.after) && filter.after >= 0))
    throw invalid('after must be a whole number (an event seq)', 'after');
  const { since, until, actorType, actorId, action, targetType, targetId, after } = filter;
  return { since, until, actorType, actorId, action, targetType, targetId, after };
}

export function createAuditLog({
  knex,
  clock,
  batchSize = DEFAULT_BATCH,
  kinds = AUDIT_KINDS,
}: AuditLogDeps) {
  const store = createAuditStore(knex);
  const appendToChain = createAppender(store);
  // Whatever made the write fail (database down, insert refused), the event is not recorded: the
  // caller's action must not go out unaudited, so it answers 503 (src/db/unavailable.ts).
  const appendMessage = (err: unknown) => String((err as Error)?.message ?? err).slice(0, 200);
  const unavailable = (err: unknown) => {
    throw new Unavailable('audit log', appendMessage(err));
  };
  const append = (fields: EventFields) => appendToChain(fields).catch(unavailable);

  return {
    /**
     * Appends one event to the chain; resolves once it is committed. Throws DomainError for an
     * invalid event (nothing is written), Unavailable when the write fails; the caller decides
     * whether an action that cannot be audited may go ahead. Call it after your own transaction, never inside one: the append is
     * a transaction of its own, and on the embedded database (one connection) it would wait for
     * yours for ever.
     */
    async record(event: AuditEventInput): Promise<void> {
      await append(prepareEvent(event, new Date(clock.now()), kinds).fields);
    },

    /**
     * `record` in two steps, for a caller that also logs the event as stored; `dropped` names
     * the details its kind does not allow (left out: worth a warning, a call site is wrong).
     */
    prepare: (event: AuditEventInput): { fields: EventFields; dropped: string[] } =>
      prepareEvent(event, new Date(clock.now()), kinds),
    append: (fields: EventFields): Promise<void> => append(fields),
    /**
     * Appends events in one statement with `writes` (the request's own writes they record),
     * outside the group commit: one statement for both instead of one each. Fails like `append`.
     */
    appendWith: (fields: EventFields[], writes: readonly StatementPart[]): Promise<void> =>
      store.appendWith(fields, writes).catch(unavailable),
    /**
     * The append of `fields` as the last part of another store's statement (a request's flush:
     * src/oidc/requestWrites.ts), which then fails like `append` when it fails.
     */
    appendPart: (fields: EventFields[]): StatementPart => appendPart(fields),
    /**
     * The error a request fails with when the statement carrying its events failed: Unavailable
     * when the append itself failed (as `append` fails), else undefined (the statement's own).
     */
    appendFailure: (err: unknown): Unavailable | undefined =>
      asUnavailable(err) ??
      (failedInAppend(err) ? new Unavailable('audit log', appendMessage(err)) : undefined),

    /** Walks the whole chain in batches and reports the first event at fault, if any. */
    verify(): Promise<VerifyResult> {
      return store.snapshot(async (chain) =>
        verifyChain(chain.rows(batchSize), await chain.head()),
      );
    },

    /** One page of events matching `filter`, oldest first. */
    /**
     * A person's own recent security activity (sign-ins, failed attempts, factor changes): the
     * newest `limit` events of these kinds about the user, newest first.
     */
    async activityOf(userId: string, limit = 20): Promise<AuditEvent[]> {
      const rows = await store.recentAbout({ type: 'user', id: userId }, ACTIVITY, limit);
      return rows.map(toEvent);
    },

    async query(filter: AuditQuery = {}): Promise<AuditPage> {
      const limit = filter.limit ?? DEFAULT_LIMIT;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
        throw invalid(`limit must be a whole number from 1 to ${MAX_LIMIT}`, 'limit');
      // One row more than asked tells whether there is a next page.
      const rows = await store.find(rowFilter(filter), limit + 1);
      const events = rows.slice(0, limit).map(toEvent);
      return { events, next: rows.length > limit ? events[events.length - 1]!.seq : undefined };
    },

    /**
     * Writes every event matching `filter` as one line of JSON (without the newline) per call,
     * oldest first, reading `batchSize` events at a time and awaiting `write` for back-pressure.
     * Resolves with the number of events written.
     */
    async exportJsonl(
      filter: Omit<AuditQuery, 'limit'>,
      write: (line: string) => void | Promise<void>,
    ): Promise<number> {
      const base = rowFilter(filter);
      let after = base.after;
      let count = 0;
      for (;;) {
        const rows = await store.find({ ...base, after }, batchSize);
        for (const row of rows) await write(JSON.stringify(toEvent(row)));
        count += rows.length;
        if (rows.length < batchSize) return count;
        after = rows[rows.length - 1]!.seq;
      }
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
