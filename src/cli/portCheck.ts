// `portcullis serve` finds out first whether its port is free: a second server on a busy port
// says so within a second, before it opens the database, migrates or loads keys.
import { createServer } from 'node:net';
import { CliError } from './output.ts';

/** Binds `port` on `host` for a moment; throws a one-line CliError when something holds it. */
export function assertPortFree(port: number, host: string, variable: string): Promise<void> {
  if (port === 0) return Promise.resolve(); // any free port: nothing to check
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') return reject(err); // EACCES and the like: told as they are
      reject(
        new CliError(
          `port ${port} is already in use (something listens on ${host}:${port}: another Portcullis? stop it, or set ${variable})`,
        ),
      );
    });
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}
