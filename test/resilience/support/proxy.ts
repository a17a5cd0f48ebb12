// A TCP proxy between the Portcullis processes and PostgreSQL, so the suite can make the database
// unreachable (existing connections cut, new ones refused) without touching the shared server.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface DatabaseProxy {
  port: number;
  /** Local ports of the proxy's connections to PostgreSQL: `client_port` in pg_stat_activity. */
  upstreamPorts(): number[];
  /** Cuts every open connection and refuses new ones until `restore`. */
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startDatabaseProxy(target: {
  host: string;
  port: number;
}): Promise<DatabaseProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const onConnection = (client: Socket) => {
    const upstream = connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer(onConnection);
      s.once('error', reject);
      // The same port again after a cut: the processes' DATABASE_URL names it.
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      if (!s) return resolve();
      s.close(() => resolve());
    });
  const cutAll = () => {
    for (const { client, upstream } of pairs) {
      // A reset, as a failing network or database host gives, not a polite end of stream.
      client.resetAndDestroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  await listen();
  return {
    port,
    upstreamPorts: () => [...pairs].map((p) => p.upstream.localPort).filter((p) => p !== undefined),
    async cut() {
      const closed = stopListening();
      cutAll();
      await closed;
    },
    restore: listen,
    async close() {
      const closed = stopListening();
      cutAll();
      await closed;
    },
  };
}
