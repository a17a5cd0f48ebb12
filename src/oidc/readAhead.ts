// Read-ahead of a login step's artefacts (issue 14). A request on /auth/:uid or /interaction/:uid...
// always reads, one after another, its Interaction (named by the path's uid), the browser's
// Session (named by the session cookie, or by the interaction's session uid) and the Grant they
// name. Before the request's own work starts, readAheadLoginStep asks for the Interaction and the
// Session in one event-loop turn: one statement (the store's turn batch), in which the Session
// and Interaction rows bring the Grants they name (artifactBatches.ts). The rows are kept for that
// request only, keyed by its write buffer (requestWrites.ts), and the store answers the
// provider's finds from them:
// - only for the exact key asked (model and stored id: SHA-256 of a Session's or Interaction's id,
//   a Grant's id; a Session asked by uid matches on its session_uid column), each row at most once;
// - the request's own writes win: a key it saved, deleted or consumed is never served from here;
// - a row never asked for is dropped with the request (the buffer is only weakly referenced).
// Other stores' rows come in the same statement (src/db/aheadReads.ts: the person the step names,
// the login's progress, the person's Grants) and are served to those stores the same way.
// The cookie is read raw: the provider still verifies it, and asks for the row only if valid.
import type Koa from 'koa';
import type { ArtifactRow } from './artifactStore.ts';

const keyOf = (model: string, key: string) => `${model}\u0000${key}`;

/** A companion of another store as read: its JSON, null when looked for and not there. */
type AheadJson = Record<string, unknown> | unknown[] | null;

/** Companions of other stores (src/db/aheadReads.ts), kept by kind and key. */
const OTHER_PARTS = new Set(['account', 'progress', 'account_grants']);

/** The rows read ahead for one request; `undefined` rows were looked for and are not there. */
class AheadRows {
  private readonly rows = new Map<string, ArtifactRow | undefined>();
  /** Other stores' rows (JSON, null when looked for and absent), by kind and key. */
  private readonly others = new Map<string, AheadJson>();

  keep(model: string, key: string, row: ArtifactRow | undefined): void {
    const k = keyOf(model, key);
    // The first read of a key stands (a Grant named twice is one row).
    if (!this.rows.has(k)) this.rows.set(k, row);
  }

  /** Keeps a companion: a Grant as an artefact, another store's row by its kind. */
  keepCompanion(row: ArtifactRow): void {
    if (typeof row.id !== 'string') return;
    if (row.part === 'grant') this.keep('Grant', row.id, { ...row, model: 'Grant' });
    else if (row.part && OTHER_PARTS.has(row.part)) {
      const k = keyOf(row.part, row.id);
      if (!this.others.has(k)) this.others.set(k, (row.payload as AheadJson) ?? null);
      // A person's Grants (grants.reusable) are found next by id: keep each as a Grant too.
      if (row.part === 'account_grants' && Array.isArray(row.payload))
        for (const g of row.payload as { id: string; payload: Record<string, unknown> }[])
          this.keep('Grant', g.id, {
            id: g.id,
            payload: g.payload,
            consumed_at: null,
            model: 'Grant',
          });
    }
  }

  /** The row kept for exactly this key, once: `false` when none was read ahead. */
  take(model: string, key: string): ArtifactRow | undefined | false {
    const k = keyOf(model, key);
    if (!this.rows.has(k)) return false;
    const row = this.rows.get(k);
    this.rows.delete(k);
    return row;
  }

  /** Another store's row kept for this kind and key, once: `false` when none was read ahead. */
  takeOther(kind: string, key: string): AheadJson | false {
    const k = keyOf(kind, key);
    if (!this.others.has(k)) return false;
    const row = this.others.get(k) ?? null;
    this.others.delete(k);
    return row;
  }

  /** The Session kept whose session_uid is `uid`, once, with its stored id. */
  takeSession(uid: string): (ArtifactRow & { id: string }) | undefined {
    for (const [k, row] of this.rows) {
      if (row?.model === 'Session' && row.id !== undefined && row.session_uid === uid) {
        this.rows.delete(k);
        return row as ArtifactRow & { id: string };
      }
    }
    return undefined;
  }

  forget(model: string, key: string): void {
    this.rows.delete(keyOf(model, key));
  }

  /** Drops every companion of `kind` (its store wrote in this request). */
  forgetOthers(kind: string): void {
    const prefix = keyOf(kind, '');
    for (const k of [...this.others.keys()]) if (k.startsWith(prefix)) this.others.delete(k);
  }
}

/** One ask of a read-ahead: a model and its stored key. */
export interface AheadAsk {
  model: string;
  key: string;
}

/** The read-ahead rows of each request in progress, keyed by the request's write buffer. */
export function aheadRows() {
  const byRequest = new WeakMap<object, AheadRows>();
  return {
    /**
     * Keeps what `found` holds for `asks` (each ask's row, or its absence, and what came with
     * it) for `request`, replacing anything read ahead for it before.
     */
    keep(
      request: object,
      asks: AheadAsk[],
      found: { row: ArtifactRow | undefined; companions: ArtifactRow[] }[],
    ): void {
      const rows = new AheadRows();
      asks.forEach((ask, i) => {
        const entry = found[i];
        rows.keep(ask.model, ask.key, entry?.row && { ...entry.row, model: ask.model });
        for (const companion of entry?.companions ?? []) rows.keepCompanion(companion);
      });
      byRequest.set(request, rows);
    },
    /**
     * Keeps other stores' rows that came with a token or code (its person) for `request`, beside
     * what it read ahead before.
     */
    keepOthers(request: object, companions: ArtifactRow[]): void {
      const rows = byRequest.get(request) ?? new AheadRows();
      byRequest.set(request, rows);
      for (const companion of companions) rows.keepCompanion(companion);
    },
    take: (request: object | undefined, model: string, key: string) =>
      request ? (byRequest.get(request)?.take(model, key) ?? false) : false,
    takeOther(request: object | undefined, kind: string, key: string): AheadJson | false {
      const rows = request && byRequest.get(request);
      return rows ? rows.takeOther(kind, key) : false;
    },
    takeSession: (request: object | undefined, uid: string) =>
      request ? byRequest.get(request)?.takeSession(uid) : undefined,
    /** The request wrote `key` (or consumed it): its read-ahead row is stale. */
    forget(request: object | undefined, model: string, key: string): void {
      if (request) byRequest.get(request)?.forget(model, key);
    },
    /** Another store wrote in the request: none of its rows read ahead is served. */
    forgetOthers(request: object | undefined, kind: string): void {
      if (request) byRequest.get(request)?.forgetOthers(kind);
    },
    /** The request deleted rows it cannot name one by one (a revocation): nothing is served. */
    forgetAll(request: object | undefined): void {
      if (request) byRequest.delete(request);
    },
  };
}

export type AheadRowsOf = ReturnType<typeof aheadRows>;

/** A login step's path: the resume at /auth/:uid, or a page of /interaction/:uid. */
const STEP_PATH = /^\/(?:auth\/([\w-]+)|interaction\/([\w-]+)(?:\/.*)?)$/;

export interface ReadAheadDeps {
  /** The store's read-ahead (answered once the statement carrying it has returned). */
  readAhead(asks: AheadAsk[]): Promise<void>;
  /** The stored key of a Session's or Interaction's id (adapter.ts hashId). */
  keyOf(id: string): string;
  /** The provider's session cookie name (as configured). */
  sessionCookie(): string;
}

/**
 * Koa middleware, inside a request that holds its artefact writes (writeBehind.ts): on a login
 * step's path, reads the Interaction and the Session ahead in one statement, then goes on. A
 * failed read-ahead is ignored: the provider's own finds then go out (and fail) as before.
 */
export function readAheadLoginStep(deps: ReadAheadDeps): Koa.Middleware {
  return async (ctx, next) => {
    const match = STEP_PATH.exec(ctx.path);
    const uid = match?.[1] ?? match?.[2];
    if (uid) {
      const asks: AheadAsk[] = [{ model: 'Interaction', key: deps.keyOf(uid) }];
      const cookie = ctx.cookies.get(deps.sessionCookie(), { signed: false });
      if (cookie) asks.push({ model: 'Session', key: deps.keyOf(cookie) });
      await deps.readAhead(asks).catch(() => {});
    }
    return next();
  };
}
