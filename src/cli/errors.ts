// Turns any error into the one line a CLI user sees: what went wrong, never a stack trace.
import { ConfigError } from '../config.ts';
import { EmbeddedDatabaseBusy } from '../db/embedded.ts';
import { Unavailable } from '../db/unavailable.ts';
import { DomainError } from '../errors.ts';
import { SealedValueError } from '../keys/envelope.ts';
import { CliError } from './output.ts';

const DB_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  '3D000': 'database does not exist',
  '28P01': 'authentication failed',
  '28000': 'authentication failed',
};

export function describeError(err: unknown): string {
  if (
    err instanceof ConfigError ||
    err instanceof CliError ||
    err instanceof SealedValueError ||
    err instanceof EmbeddedDatabaseBusy ||
    err instanceof Unavailable
  ) {
    return err.message;
  }
  if (err instanceof DomainError) return err.field ? `${err.field}: ${err.message}` : err.message;
  const e = err as { code?: string; message?: string; name?: string; errors?: { code?: string }[] };
  const code = e?.code ?? e?.errors?.[0]?.code;
  if (code === 'EADDRINUSE')
    return `cannot listen: ${e.message?.replace(/^listen EADDRINUSE: /, '')}`;
  if (code === 'EACCES' && /listen/.test(e.message ?? ''))
    return `cannot listen: permission denied (${e.message})`;
  if (code && DB_CODES[code]) return `cannot reach the database (${DB_CODES[code]})`;
  if (e?.name === 'KnexTimeoutError')
    return 'cannot reach the database (timed out waiting for a connection)';
  return `unexpected error: ${e?.message ?? String(err)}`;
}
