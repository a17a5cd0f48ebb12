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

/**
 * The canonical JSON of an event's own fields (everything between seq and prev_hash), without
 * the enclosing brackets: the part of the hashed text that does not depend on the chain.
 */
export function eventBody(row: EventFields): string {
  const json = canonicalJson([
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
  ]);
  return json.slice(1, -1);
}

/**
 * SHA-256 (hex) of canonicalJson([seq, ...fields, prev_hash]). The database function
 * audit_append (migrations/202611291100) builds the same text from `body`: keep them equal.
 */
export function chainHash(seq: number, body: string, prevHash: string): string {
  return createHash('sha256')
    .update(`[${JSON.stringify(seq)},${body},${JSON.stringify(prevHash)}]`)
    .digest('hex');
}

/** The hash an event row must carry. */
export function hashEvent(row: Omit<AuditRow, 'hash'>): string {
  return chainHash(row.seq, eventBody(row), row.prev_hash);
}
