// Structured JSON logs. Redaction is a safety net: code never puts secrets in log fields.
import { type Logger, pino } from 'pino';

export type { Logger };

export const REDACTED_FIELDS = [
  'password',
  'secret',
  'client_secret',
  'code',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'authorization',
  'cookie',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          ...REDACTED_FIELDS,
          ...REDACTED_FIELDS.map((f) => `*.${f}`),
          'req.headers.authorization',
          'req.headers.cookie',
          'res.headers["set-cookie"]',
        ],
        censor: '[redacted]',
      },
    },
    // Standard output through an asynchronous writer: lines that arrive while a write is in
    // flight go out together (one syscall per batch instead of per line, some 15 µs per line
    // under load); pino flushes what is pending when the process exits.
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * What may be logged of an unexpected error: its class name, a short machine code (a PostgreSQL
 * SQLSTATE, a Node errno) and where it was thrown. Not its message, which may quote input.
 */
export function errorFacts(err: unknown): { name: string; errorCode?: string; at?: string } {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; stack?: unknown };
  const name = typeof e.name === 'string' ? e.name.slice(0, 64) : 'Error';
  const errorCode =
    typeof e.code === 'string' && /^[A-Za-z0-9_]{1,32}$/.test(e.code) ? e.code : undefined;
  // The first frame of the stack: "file:line:column", the function name and path only.
  const frame =
    typeof e.stack === 'string'
      ? /\n\s+at (?:.*? \()?(.*?:\d+:\d+)\)?/.exec(e.stack)?.[1]
      : undefined;
  const at = frame?.replace(/^file:\/\//, '').slice(-160);
  return { name, ...(errorCode ? { errorCode } : {}), ...(at ? { at } : {}) };
}
