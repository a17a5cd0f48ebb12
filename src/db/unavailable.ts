// Recognises "PostgreSQL cannot be reached right now" among driver and pool errors, and the typed
// Unavailable error the web layers turn into a clean 503 with Retry-After (never a 500).

/** Seconds a caller is asked to wait before retrying a request answered 503. */
export const RETRY_AFTER_SECONDS = 2;

/** Something every request depends on (the database, the audit log) cannot be used right now. */
export class Unavailable extends Error {
  override name = 'Unavailable';
  constructor(
    /** What was unavailable: for the log line, never shown in detail to callers. */
    readonly what: 'database' | 'audit log',
    /** The driver's own message: for the log line and the CLI, never in an HTTP response. */
    readonly reason: string,
  ) {
    super(`the ${what} is unavailable: ${reason}`);
  }
}

/** Socket errors of the driver when the server is down, restarting or unreachable. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** SQLSTATEs of a server going away or refusing connections (class 08, 57P0x, 53300). */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

const MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error',
  'Timeout acquiring a connection',
  'Connection is closed',
  'connect ECONNREFUSED',
];

/** True when `err` says the database cannot be reached now (as opposed to a bad statement). */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; errors?: unknown };
  if (e.name === 'KnexTimeoutError') return true;
  if (typeof e.code === 'string') {
    if (NETWORK_CODES.has(e.code) || SQLSTATES.has(e.code) || /^08/.test(e.code)) return true;
  }
  const message = typeof e.message === 'string' ? e.message : '';
  if (MESSAGES.some((m) => message.includes(m))) return true;
  // Node's dual-stack connect reports each address tried in an AggregateError.
  return Array.isArray(e.errors) && e.errors.some(isDatabaseUnavailable);
}

/** The Unavailable that `err` is or stands for, else undefined (a fault of another kind). */
export function asUnavailable(err: unknown): Unavailable | undefined {
  if (err instanceof Unavailable) return err;
  if (isDatabaseUnavailable(err))
    return new Unavailable('database', String((err as Error).message ?? err).slice(0, 200));
  return undefined;
}
