// A TCP proxy of the test's own in front of PostgreSQL, to take the database away from a server
// and give it back (the shared PostgreSQL itself is never stopped): `close()` refuses new
// connections and cuts every open one; `open()` listens again on the same port.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Refuses new connections and resets the open ones (the server sees ECONNREFUSED/reset). */
  close(): Promise<void>;
  /** Accepts and forwards connections again, on the same port. */
  open(): Promise<void>;
  /** Local ports of the open connections to PostgreSQL: `client_port` in pg_stat_activity. */
  upstreamPorts(): number[];
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const upstreams = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      if (server) return resolve();
      const s = createServer((client) => {
        const upstream = createConnection(target);
        upstreams.add(upstream);
        upstream.on('close', () => upstreams.delete(upstream));
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });

  await listen();
  return {
    get port() {
      return port;
    },
    async close() {
      const s = server;
      server = undefined;
      for (const socket of sockets) socket.resetAndDestroy();
      sockets.clear();
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    open: listen,
    upstreamPorts: () =>
      [...upstreams].map((u) => u.localPort).filter((p): p is number => p !== undefined),
  };
}
