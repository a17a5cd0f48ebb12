// Shared by the audit tests: a known chain to start from, and the raw tables to compare against.
// Tests change the tables with knex directly, as an intruder with database access would.
import type { Knex } from 'knex';
import { GENESIS_HASH } from '../../src/audit/chain.ts';
import type { AuditKinds } from '../../src/audit/kinds.ts';
import type { AuditLog } from '../../src/audit/log.ts';

/**
 * The kinds of event the chain's own tests record (createAuditLog({ kinds })): what the chain
 * does is the same for any kind, so these carry made-up details that exercise it.
 */
export const TEST_KINDS: AuditKinds = {
  'login.success': ['n', 'reason', 'tags', 'blob'],
  'login.failure': ['n', 'reason', 'tags', 'username', 'k\uDC00', 'emoji'],
  'client.created': ['name', 'grants'],
  'key.rotated': [],
  'token.issued': ['n'],
  'grant.revoked': ['n'],
};

/** Empties the chain (as a fresh migration leaves it). */
export async function resetChain(knex: Knex): Promise<void> {
  await knex('audit_events').delete();
  await knex('audit_chain_head').delete();
  await knex('audit_chain_head').insert({ id: 1, seq: 0, hash: GENESIS_HASH });
}

/**
 * Records `count` varied events one after the other (event #n is about user u<n>; every third
 * actor is an admin, even events are failures, every fifth has a client target), calling
 * `between` after each.
 */
export async function recordEvents(
  audit: AuditLog,
  count: number,
  between: () => void = () => {},
): Promise<void> {
  for (let n = 1; n <= count; n++) {
    await audit.record({
      actor: { type: n % 3 === 0 ? 'admin' : 'user', id: `u${n}` },
      action: n % 2 === 0 ? 'login.failure' : 'login.success',
      target: n % 5 === 0 ? { type: 'client', id: `c${n}` } : undefined,
      outcome: n % 2 === 0 ? 'failure' : 'success',
      sourceIp: `192.0.2.${n % 250}`,
      userAgent: 'Mozilla/5.0 (test)',
      details: { n, reason: n % 2 === 0 ? 'bad password' : undefined, tags: ['a', { b: n }] },
    });
    between();
  }
}

export async function tables(knex: Knex) {
  return {
    events: await knex('audit_events').select('*').orderBy('seq'),
    head: await knex('audit_chain_head').select('*'),
  };
}

export async function row(knex: Knex, seq: number) {
  return knex('audit_events').where({ seq }).first();
}
