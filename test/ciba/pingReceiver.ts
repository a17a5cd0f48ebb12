// A CIBA client's notification endpoint for tests: an https server of a test PKI that records each
// ping (its bearer, content type and body), shared by the ping tests and the discovery truth test.
import { createServer } from 'node:https';
import { createTestPki } from '../support/certificates.ts';
import { tlsFetch } from '../support/tlsFetch.ts';

export interface Ping {
  authorization: string | undefined;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

export interface PingReceiver {
  /** https://localhost:<port>/ciba/notify */
  url: string;
  pings: Ping[];
  /** Resolves at the next ping. */
  next(): Promise<Ping>;
  /** A fetch for the server that trusts the receiver's certificate (other URLs: plain fetch). */
  fetch: typeof fetch;
  close(): Promise<void>;
}

export async function startPingReceiver(): Promise<PingReceiver> {
  const pki = createTestPki();
  const pings: Ping[] = [];
  let waiting: ((ping: Ping) => void) | undefined;
  const receiver = createServer({ cert: pki.server.cert, key: pki.server.key }, (req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const ping = {
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body: JSON.parse(body || '{}'),
      };
      pings.push(ping);
      res.statusCode = 204;
      res.end();
      waiting?.(ping);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as { port: number }).port;
  const trusting = tlsFetch({ ca: pki.serverCa.cert });
  return {
    url: `https://localhost:${port}/ciba/notify`,
    pings,
    next: () =>
      new Promise((resolve) => {
        waiting = resolve;
      }),
    fetch: ((input, init) =>
      String(input instanceof Request ? input.url : input).startsWith('https://localhost')
        ? trusting(input, init)
        : fetch(input, init)) as typeof fetch,
    async close() {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
      pki.remove();
    },
  };
}
