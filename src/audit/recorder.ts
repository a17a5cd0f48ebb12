// How the server records a security event: into the hash-chained audit log, and as one line to
// the logs. The audit log keeps only the details each kind of event allows, so the line skips
// pino's redaction pass (a token issued is one event per request: the pass cost ~20 µs each).
import { invalid } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { AuditEventInput, AuditLog } from './log.ts';

export type RecordSecurityEvent = (event: AuditEventInput) => Promise<void>;

export function createSecurityRecorder({
  audit,
  logger,
  strict,
  committed,
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
}): RecordSecurityEvent {
  const securityLog = logger.child({}, { redact: [] });
  return async (event) => {
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
    await audit.append(fields);
    committed?.(fields.action);
  };
}
