// A relying party's back-channel logout endpoint for tests: a real HTTP server that records the
// logout tokens it receives and answers as told (200, an error status, or never).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour = 'ok' | 'down' | 'hang' | 'redirect';

export interface TestRelyingParty {
  uri: string;
  /** Logout tokens received, in order (whatever the answer was). */
  tokens: string[];
  behaviour: Behaviour;
  /** Resolves once `count` tokens were received (fails after `ms`). */
  received(count: number, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startRelyingParty(): Promise<TestRelyingParty> {
  const hanging: ServerResponse[] = [];
  const rp: TestRelyingParty = {
    uri: '',
    tokens: [],
    behaviour: 'ok',
    async received(count, ms = 5000) {
      const end = Date.now() + ms;
      while (rp.tokens.length < count) {
        if (Date.now() > end)
          throw new Error(`expected ${count} logout tokens, got ${rp.tokens.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () =>
      new Promise((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.method === 'POST' && req.url === '/backchannel') {
      const token = new URLSearchParams(body).get('logout_token');
      if (token) rp.tokens.push(token);
    }
    switch (rp.behaviour) {
      case 'ok':
        res.writeHead(200, { 'cache-control': 'no-store' }).end();
        break;
      case 'down':
        res.writeHead(503).end('unavailable');
        break;
      case 'redirect':
        res.writeHead(302, { location: `${rp.uri}-elsewhere` }).end();
        break;
      case 'hang':
        hanging.push(res);
        break;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  rp.uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel`;
  return rp;
}
