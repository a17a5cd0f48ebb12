// Appends a batch of audit events in one statement: the function takes the chain head's row lock,
// hashes each event onto the one before (SHA-256 over the same canonical JSON as src/audit/
// chain.ts, whose `body` the caller computes) and moves the head. One round trip per batch
// instead of six, and the lock is held for one statement only.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function audit_append(events jsonb) returns bigint language plpgsql as $$
    declare
      head_seq bigint;
      head_hash text;
      event jsonb;
      next_hash text;
    begin
      -- The row lock serialises appenders of every instance; under read committed the head is
      -- re-read once the lock is granted, so each batch chains onto the one committed before it.
      select seq, hash into head_seq, head_hash from audit_chain_head where id = 1 for update;
      if not found then
        raise exception 'the audit chain head is missing: run "portcullis audit verify"';
      end if;
      for event in select value from jsonb_array_elements(events) loop
        head_seq := head_seq + 1;
        -- canonicalJson([seq, ...body, prev_hash]); the JSON of a hex string is itself in quotes.
        next_hash := encode(sha256(convert_to(
          '[' || head_seq::text || ',' || (event->>'body') || ',"' || head_hash || '"]', 'UTF8')), 'hex');
        insert into audit_events (seq, occurred_at, actor_type, actor_id, action, target_type,
          target_id, source_ip, user_agent, outcome, details, prev_hash, hash)
        values (head_seq, (event->>'occurred_at')::timestamptz, event->>'actor_type',
          event->>'actor_id', event->>'action', event->>'target_type', event->>'target_id',
          event->>'source_ip', event->>'user_agent', event->>'outcome', event->'details',
          head_hash, next_hash);
        head_hash := next_hash;
      end loop;
      update audit_chain_head set seq = head_seq, hash = head_hash where id = 1;
      return head_seq;
    end $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function if exists audit_append(jsonb)');
}
