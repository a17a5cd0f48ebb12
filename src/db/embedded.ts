// The embedded database on disk. PGlite allows one process per data directory, so the server
// that owns it also serves it on a Unix socket in DATA_DIR: the CLI (and the server itself)
// connect to that socket as ordinary PostgreSQL clients while it runs. With no server running,
// a command opens the files directly, holding a lock file so no second process does too.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { seedFromTemplate } from './embeddedTemplate.ts';
import { migrationNames } from './migrate.ts';

const SOCKET_PORT = 5432;
const socketFile = (dir: string) => join(dir, `.s.PGSQL.${SOCKET_PORT}`);
const lockFile = (dir: string) => join(dir, 'pgdata.lock');
export const pgdataDir = (dir: string) => join(resolve(dir), 'pgdata');

/**
 * Makes the data folder of `dir`; a new one starts from the build's template (initdb and every
 * migration done: see embeddedTemplate.ts) when there is one that suits.
 */
export function prepareDataDir(dir: string): string {
  const pgdata = pgdataDir(dir);
  mkdirSync(pgdata, { recursive: true });
  seedFromTemplate(pgdata, migrationNames());
  return pgdata;
}

/** pg connection settings for the socket of a running embedded server. */
export const socketConnection = (dir: string) => ({
  host: resolve(dir),
  port: SOCKET_PORT,
  user: 'postgres',
  database: 'postgres',
});

/** True when a server is serving the embedded database of `dir` right now. */
export function embeddedServerRunning(dir: string): Promise<boolean> {
  const path = socketFile(resolve(dir));
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((done) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class EmbeddedDatabaseBusy extends Error {
  override name = 'EmbeddedDatabaseBusy';
}

/** Takes the data directory for this process; throws EmbeddedDatabaseBusy when another has it. */
export function lockDataDir(dir: string): () => void {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  const file = lockFile(abs);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new EmbeddedDatabaseBusy(
          `the embedded database in ${abs} is in use by process ${pid} (stop it, or set DATABASE_URL)`,
        );
      }
      rmSync(file, { force: true }); // left by a process that is gone
    }
  }
  throw new EmbeddedDatabaseBusy(`cannot lock the embedded database in ${abs}`);
}

/** Opens the embedded database in this process and serves it on the socket in `dir`. */
export async function hostEmbeddedDatabase(dir: string): Promise<{ stop(): Promise<void> }> {
  const release = lockDataDir(dir);
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    const db = await PGlite.create(prepareDataDir(dir));
    rmSync(socketFile(resolve(dir)), { force: true });
    const server = new PGLiteSocketServer({
      db,
      path: socketFile(resolve(dir)),
      maxConnections: 64,
    });
    await server.start();
    return {
      async stop() {
        await server.stop();
        await db.close();
        rmSync(socketFile(resolve(dir)), { force: true });
        release();
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}
