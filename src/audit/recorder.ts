// How the server records a security event: into the hash-chained audit log, and as one line to
// the logs. The audit log keeps only the details each kind of event allows, so the line skips
// pino's redaction pass (a token issued is one event per request: the pass cost ~20 µs each).

import type { HeldRequest, StatementPart } from '../db/together.ts';
import { invalid } from '../errors.ts';
import { errorFacts, type Logger } from '../log.ts';
import type { EventFields } from './event.ts';
import type { AuditEventInput, AuditLog } from './log.ts';

/** Records a security event; `with` records events in the same statement as their writes. */
export interface RecordSecurityEvent {
  (event: AuditEventInput): Promise<void>;
  /**
   * Records `events` in one statement with `writes`, the request's writes they belong to
   * (src/db/together.ts): a sign-in's completion is one statement, not one per table and event.
   */
  with(events: AuditEventInput[], writes: readonly StatementPart[]): Promise<void>;
}

export function createSecurityRecorder({
  audit,
  logger,
  strict,
  committed,
  held,
}: {
  audit: AuditLog;
  logger: Logger;
  /** Called with the action of each event once committed (the test suite's coverage note). */
  committed?: (action: string) => void;
  /**
   * A call site passing details its kind does not list is a mistake: with `strict` (outside
   * production, so tests find it) it is an error; otherwise the event is recorded without them.
   */
  strict: boolean;
  /**
   * The request in progress when it holds its writes back to one statement before its response
   * (src/oidc/writeBehind.ts): its events then ride in that statement instead of one of their
   * own, and commit (or fail the request) with its writes.
   */
  held?: () => HeldRequest | undefined;
}): RecordSecurityEvent {
  const securityLog = logger.child({}, { redact: [] });

  /** The event as stored, checked against its kind and logged as one line. */
  function prepared(event: AuditEventInput): EventFields {
    const { fields, dropped } = audit.prepare(event);
    if (dropped.length) {
      if (strict)
        throw invalid(
          `audit details ${dropped.join(', ')} are not listed for ${fields.action} in src/audit/kinds.ts`,
          'details',
        );
      logger.warn(
        { action: fields.action, dropped },
        'audit details not allowed for this event left out',
      );
    }
    securityLog.info(
      {
        audit: {
          actor: { type: fields.actor_type, id: fields.actor_id ?? undefined },
          action: fields.action,
          target: fields.target_type
            ? { type: fields.target_type, id: fields.target_id }
            : undefined,
          outcome: fields.outcome,
          sourceIp: fields.source_ip ?? undefined,
          userAgent: fields.user_agent ?? undefined,
        },
        details: fields.details,
      },
      'security event',
    );
    return fields;
  }

  /** Hands the events and writes to the request's flush; false outside such a request. */
  function heldBack(fields: EventFields[], writes: readonly StatementPart[]): boolean {
    const request = held?.();
    if (!request) return false;
    request.alongside({
      parts: [...writes],
      events: fields,
      append: (events) => audit.appendPart(events as EventFields[]),
      committed: () => {
        for (const f of fields) committed?.(f.action);
      },
      failed: (err) => {
        for (const f of fields)
          logger.error({ err: errorFacts(err), action: f.action }, 'audit write failed');
        return audit.appendFailure(err);
      },
    });
    return true;
  }

  const record = async (event: AuditEventInput): Promise<void> => {
    const fields = prepared(event);
    if (heldBack([fields], [])) return;
    await audit.append(fields);
    committed?.(fields.action);
  };
  return Object.assign(record, {
    async with(events: AuditEventInput[], writes: readonly StatementPart[]): Promise<void> {
      const fields = events.map(prepared);
      if (heldBack(fields, writes)) return;
      await audit.appendWith(fields, writes);
      for (const f of fields) committed?.(f.action);
    },
  });
}
