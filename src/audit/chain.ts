// The hash chain: each event's hash covers its own fields and the previous event's hash, so
// changing, removing or slipping in an event breaks every link after it.
import { createHash } from 'node:crypto';
import type { EventFields } from './event.ts';

/** The prev_hash of event #1, and the head of an empty chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** An event row as stored in audit_events. */
export interface AuditRow extends EventFields {
  seq: number;
  prev_hash: string;
  hash: string;
}

/**
 * JSON with object keys sorted (by UTF-16 code units, at every depth) and no whitespace, as in
 * RFC 8785. jsonb gives keys back in its own order, so the hash must not depend on key order.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object)
    .filter((k) => object[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(object[k])}`).join(',')}}`;
}

/** SHA-256 (hex) of the canonical JSON of the event's fields in a fixed order. */
export function hashEvent(row: Omit<AuditRow, 'hash'>): string {
  const fields = [
    row.seq,
    row.occurred_at.toISOString(),
    row.actor_type,
    row.actor_id,
    row.action,
    row.target_type,
    row.target_id,
    row.source_ip,
    row.user_agent,
    row.outcome,
    row.details,
    row.prev_hash,
  ];
  return createHash('sha256').update(canonicalJson(fields)).digest('hex');
}
