// A fetch over node:https that trusts a given CA and presents a client certificate, for the mutual
// TLS tests: what openid-client takes as customFetch and HttpBrowser as its fetch. Each request
// opens its own connection (no agent), so a certificate never outlives the client that chose it.
import { request } from 'node:https';
import type { Identity } from './certificates.ts';

export interface TlsFetchOptions {
  /** PEM of the CA that issued the server's certificate. */
  ca: string;
  /** The client certificate and key presented in the handshake; none when undefined. */
  client?: Pick<Identity, 'cert' | 'key'> | undefined;
  /** Extra headers on every request (e.g. a forged certificate header). */
  headers?: Record<string, string>;
}

function bodyOf(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof URLSearchParams) return Buffer.from(body.toString());
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError('tlsFetch: unsupported body');
}

export function tlsFetch(options: TlsFetchOptions): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
    const body = bodyOf(init.body);
    if (body && !headers.has('content-type'))
      headers.set(
        'content-type',
        init.body instanceof URLSearchParams
          ? 'application/x-www-form-urlencoded;charset=UTF-8'
          : 'text/plain;charset=UTF-8',
      );
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        url,
        {
          method: init.method ?? 'GET',
          headers: Object.fromEntries(headers),
          ca: options.ca,
          cert: options.client?.cert,
          key: options.client?.key,
          agent: false,
          signal: init.signal ?? undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              for (const v of [value ?? []].flat()) responseHeaders.append(name, v);
            }
            const status = res.statusCode ?? 500;
            const empty = status === 204 || status === 304;
            resolve(
              new Response(empty ? null : Buffer.concat(chunks), {
                status,
                statusText: res.statusMessage,
                headers: responseHeaders,
              }),
            );
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }) as typeof fetch;
}
