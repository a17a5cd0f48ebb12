// `portcullis audit verify|export|list`: check the audit chain, export it as JSON Lines, and
// read events as a table.
import type { Command } from 'commander';
import { ACTOR_TYPES, type ActorType } from '../../audit/event.ts';
import type { AuditEvent, AuditQuery } from '../../audit/log.ts';
import { withApp } from '../context.ts';
import { CliError, print, printJson, printTable } from '../output.ts';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/** True when the YYYY-MM-DD that `value` starts with is a real calendar day. */
function realDay(value: string): boolean {
  const [y, m, d] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  return day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
}

/**
 * An ISO 8601 date (midnight UTC) or date-time with a zone (Z or ±hh:mm). A time without a zone
 * is refused rather than read in this machine's zone, and so is a day that does not exist
 * (JavaScript would roll 2026-02-30 over to March).
 */
export function parseTime(option: string, value: string): Date {
  const date = ISO_DATE.test(value)
    ? new Date(`${value}T00:00:00Z`)
    : ISO_TIME.test(value)
      ? new Date(value)
      : undefined;
  if (!date || !Number.isFinite(date.getTime()) || !realDay(value)) {
    throw new CliError(
      `${option} "${value}" is not an ISO 8601 date, or date and time with a zone (e.g. 2026-11-29 or 2026-11-29T14:00:00Z)`,
    );
  }
  return date;
}

/** "user:42" -> { type: 'user', id: '42' }; "user" -> { type: 'user' }. */
function parseRef(option: string, value: string): { type: string; id: string | undefined } {
  const colon = value.indexOf(':');
  const type = colon < 0 ? value : value.slice(0, colon);
  const id = colon < 0 ? undefined : value.slice(colon + 1);
  if (!type || id === '') throw new CliError(`${option} must look like TYPE or TYPE:ID`);
  return { type, id };
}

function parseActor(value: string): { type: ActorType; id: string | undefined } {
  const actor = parseRef('--actor', value);
  if (!ACTOR_TYPES.includes(actor.type as ActorType))
    throw new CliError(`--actor type must be one of ${ACTOR_TYPES.join(', ')}`);
  return actor as { type: ActorType; id: string | undefined };
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 500)
    throw new CliError('--limit must be a whole number from 1 to 500');
  return n;
}

function parseAfter(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new CliError('--after must be an event number (the seq shown by audit list)');
  return Number(value);
}

function timeRange(opts: { since?: string; until?: string }): Pick<AuditQuery, 'since' | 'until'> {
  const since = opts.since === undefined ? undefined : parseTime('--since', opts.since);
  const until = opts.until === undefined ? undefined : parseTime('--until', opts.until);
  if (since && until && since >= until) throw new CliError('--since must be before --until');
  return { since, until };
}

const ref = (r: { type: string; id: string | null } | null) =>
  r ? (r.id === null ? r.type : `${r.type}:${r.id}`) : '';

/** Writes one line to stdout, waiting when the pipe is full (a large export into `gzip`). */
function writeLine(line: string): Promise<void> | undefined {
  if (process.stdout.write(`${line}\n`)) return undefined;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

interface ListOptions {
  since?: string;
  until?: string;
  actor?: string;
  action?: string;
  target?: string;
  after?: string;
  limit: string;
  json?: boolean;
}

export function registerAuditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description('verify, export and read the tamper-evident audit log');

  audit
    .command('verify')
    .description('check the hash chain of every event; exits 1 naming the first event at fault')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withApp(async (app) => {
        const result = await app.services.audit.verify();
        if (opts.json) printJson(result);
        if (!result.ok) throw new CliError(result.message);
        if (!opts.json) process.stdout.write(`audit chain intact: ${result.count} events\n`);
      });
    });

  audit
    .command('export')
    .description('write events as JSON Lines (one event per line, oldest first) to stdout')
    .requiredOption('--since <time>', 'events at or after this ISO 8601 time (e.g. 2026-11-01)')
    .option('--until <time>', 'events before this ISO 8601 time')
    .action(async (opts: { since: string; until?: string }) => {
      const range = timeRange(opts);
      await withApp(async (app) => {
        await app.services.audit.exportJsonl(range, writeLine);
      });
    });

  audit
    .command('list')
    .description('list events, oldest first, a page at a time')
    .option('--since <time>', 'events at or after this ISO 8601 time')
    .option('--until <time>', 'events before this ISO 8601 time')
    .option('--actor <type:id>', 'who acted: user, client, admin or system, with an optional :ID')
    .option('--action <action>', 'an action name, e.g. login.failure')
    .option('--target <type:id>', 'what was acted on, e.g. client:abc123')
    .option('--after <seq>', 'start after this event number (the next page)')
    .option('--limit <n>', 'events per page, up to 500', '100')
    .option('--json', 'print as JSON')
    .action(async (opts: ListOptions) => {
      const actor = opts.actor === undefined ? undefined : parseActor(opts.actor);
      const target = opts.target === undefined ? undefined : parseRef('--target', opts.target);
      const filter: AuditQuery = {
        ...timeRange(opts),
        actorType: actor?.type,
        actorId: actor?.id,
        action: opts.action,
        targetType: target?.type,
        targetId: target?.id,
        after: opts.after === undefined ? undefined : parseAfter(opts.after),
        limit: parseLimit(opts.limit),
      };
      await withApp(async (app) => {
        const { events, next } = await app.services.audit.query(filter);
        print(opts.json, { events, next: next ?? null }, () => {
          printTable(events.map(row), [
            'seq',
            'time',
            'actor',
            'action',
            'target',
            'outcome',
            'ip',
          ]);
          if (next !== undefined) process.stdout.write(`more events: add --after ${next}\n`);
        });
      });
    });
}

const row = (e: AuditEvent) => ({
  seq: e.seq,
  time: e.occurredAt,
  actor: ref(e.actor),
  action: e.action,
  target: ref(e.target),
  outcome: e.outcome,
  ip: e.sourceIp,
});
