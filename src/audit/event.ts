// What an audit event is: the input callers give, the event readers get, and the checks and
// clean-up (validation, the details its kind allows, text sanitising) before it is hashed.
import { invalid } from '../errors.ts';
import { AUDIT_KINDS, type AuditAction, type AuditKinds } from './kinds.ts';

export const ACTOR_TYPES = ['user', 'client', 'admin', 'system'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];
export const OUTCOMES = ['success', 'failure'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * One security event as a caller records it. Its action must be a kind listed in kinds.ts, and
 * only the `details` keys listed for that kind are stored: never put a secret (password, token,
 * code, key, cookie) in a listed one, or in the target or actor.
 */
export interface AuditEventInput {
  actor: { type: ActorType; id?: string };
  /** A kind of event listed in kinds.ts: `login.failure`, `client.created`. */
  action: AuditAction;
  target?: { type: string; id: string };
  outcome: Outcome;
  sourceIp?: string;
  userAgent?: string;
  details?: Record<string, unknown>;
}

/** One event as stored: `seq` is its place in the chain, `hash` covers it and `prevHash`. */
export interface AuditEvent {
  seq: number;
  occurredAt: Date;
  actor: { type: ActorType; id: string | null };
  action: string;
  target: { type: string; id: string } | null;
  outcome: Outcome;
  sourceIp: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** The columns of an event that the caller decides (everything but seq and the hashes). */
export interface EventFields {
  occurred_at: Date;
  actor_type: ActorType;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  source_ip: string | null;
  user_agent: string | null;
  outcome: Outcome;
  details: Record<string, unknown>;
}

const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const MAX_ID = 256;
const MAX_USER_AGENT = 512;
const MAX_DETAILS_BYTES = 16 * 1024;
// A NUL or any UTF-16 surrogate (paired ones are left as they are by the replacements below).
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what it looks for
const NEEDS_SANITISING = /[\u0000\uD800-\uDFFF]/;

/**
 * Text as PostgreSQL stores it and gives it back unchanged: NUL (refused by PostgreSQL) and lone
 * UTF-16 surrogates (re-encoded on the way in) become U+FFFD. Without this, an attacker-chosen
 * string could fail the insert, or be stored differently from what was hashed and so make an
 * intact chain look altered.
 */
export function sanitiseText(value: string): string {
  // Nearly every string has neither: one scan, no copies.
  if (!NEEDS_SANITISING.test(value)) return value;
  return value
    .replaceAll('\u0000', '\uFFFD')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** Plain JSON with every string (keys included) sanitised, at any depth. */
function sanitise(value: unknown): unknown {
  if (typeof value === 'string') return sanitiseText(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(sanitise);
  // fromEntries defines own properties, so even a "__proto__" key stays plain data.
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [sanitiseText(k), sanitise(v)]));
}

/**
 * `details` as plain JSON (what jsonb gives back), keeping only the keys its kind allows, within
 * the size limit. Returns the names of the keys left out, for the caller to report.
 */
function prepareDetails(
  details: Record<string, unknown> | undefined,
  allowed: readonly string[],
): { details: Record<string, unknown>; dropped: string[] } {
  if (details === undefined) return { details: {}, dropped: [] };
  if (details === null || typeof details !== 'object' || Array.isArray(details))
    throw invalid('audit details must be an object', 'details');
  let json: string;
  try {
    json = JSON.stringify(details);
  } catch {
    throw invalid('audit details must be JSON (no cycles or BigInt values)', 'details');
  }
  const kept: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(JSON.parse(json) as Record<string, unknown>)) {
    if (allowed.includes(key)) kept[key] = value;
    else dropped.push(sanitiseText(key));
  }
  const cleaned = sanitise(kept) as Record<string, unknown>;
  if (Buffer.byteLength(JSON.stringify(cleaned)) > MAX_DETAILS_BYTES)
    throw invalid(`audit details must be at most ${MAX_DETAILS_BYTES} bytes of JSON`, 'details');
  return { details: cleaned, dropped };
}

function optionalText(value: string | undefined, field: string, max: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalid(`${field} must be a string`, field);
  const text = sanitiseText(value);
  if (text.length > max) throw invalid(`${field} must be at most ${max} characters`, field);
  return text;
}

/**
 * Validates and cleans an input into the columns it is stored as; throws DomainError. `dropped`
 * names the details its kind does not allow, which were left out.
 */
export function prepareEvent(
  input: AuditEventInput,
  occurredAt: Date,
  kinds: AuditKinds = AUDIT_KINDS,
): { fields: EventFields; dropped: string[] } {
  if (!ACTOR_TYPES.includes(input.actor?.type))
    throw invalid(`actor type must be one of ${ACTOR_TYPES.join(', ')}`, 'actor');
  if (typeof input.action !== 'string' || !ACTION.test(input.action) || input.action.length > 100)
    throw invalid('action must be a dotted lower-case name such as login.failure', 'action');
  const allowed = Object.hasOwn(kinds, input.action) ? kinds[input.action] : undefined;
  if (!allowed)
    throw invalid(`${input.action} is not a kind of event the audit log records`, 'action');
  if (!OUTCOMES.includes(input.outcome))
    throw invalid(`outcome must be one of ${OUTCOMES.join(', ')}`, 'outcome');
  if (input.target !== undefined && (!input.target?.type || !input.target.id))
    throw invalid('a target needs both a type and an id', 'target');
  // The user agent is sent by anyone: it is cut to length rather than refused.
  const userAgent =
    typeof input.userAgent === 'string' ? input.userAgent.slice(0, MAX_USER_AGENT) : undefined;
  const { details, dropped } = prepareDetails(input.details, allowed);
  const fields: EventFields = {
    occurred_at: occurredAt,
    actor_type: input.actor.type,
    actor_id: optionalText(input.actor.id, 'actor id', MAX_ID),
    action: input.action,
    target_type: optionalText(input.target?.type, 'target type', MAX_ID),
    target_id: optionalText(input.target?.id, 'target id', MAX_ID),
    source_ip: optionalText(input.sourceIp, 'source IP', MAX_ID),
    user_agent: optionalText(userAgent, 'user agent', MAX_USER_AGENT),
    outcome: input.outcome,
    details,
  };
  return { fields, dropped };
}
