// HTTP for the suite: well-formed requests over keep-alive connections (node:http, which lets a
// header repeat and a path carry any percent-encoding), and raw bytes over a socket of their own
// for what node:http refuses to send (CR/LF in a header, raw invalid UTF-8, truncated bodies).
import { Agent, request } from 'node:http';
import { connect } from 'node:net';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A network failure: no HTTP answer at all (reset, refused, timeout). */
export interface NoAnswer {
  status: 0;
  error: string;
  body: '';
}

export type Outcome = Answer | NoAnswer;

export const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export interface RequestSpec {
  method: string;
  /** Path and query, sent as given. */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

export function send(origin: string, spec: RequestSpec, timeoutMs = 10_000): Promise<Outcome> {
  const url = new URL(origin);
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: spec.method,
        path: spec.path,
        headers: {
          ...(spec.body !== undefined
            ? { 'content-length': String(Buffer.byteLength(spec.body)) }
            : {}),
          ...spec.headers,
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', (err) => resolve({ status: 0, error: errorName(err), body: '' }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err) => resolve({ status: 0, error: errorName(err), body: '' }));
    req.end(spec.body);
  });
}

const errorName = (err: Error) => (err as NodeJS.ErrnoException).code ?? err.message;

/**
 * Writes `bytes` on a fresh connection, half-closes it (so a short body is truly truncated) and
 * reads whatever comes back: the status of the first response, or 0 when none came.
 */
export function sendRaw(origin: string, bytes: Buffer, timeoutMs = 5_000): Promise<Outcome> {
  const url = new URL(origin);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (match) {
        const split = text.indexOf('\r\n\r\n');
        resolve({
          status: Number(match[1]),
          headers: { raw: text.slice(0, split) },
          body: text.slice(split + 4),
        });
      } else resolve({ status: 0, error: error ?? 'no response', body: '' });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('connect', () => socket.end(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (err) => finish(errorName(err)));
  });
}

export const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
