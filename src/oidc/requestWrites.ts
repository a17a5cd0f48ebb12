// Write-behind of oidc_artifacts for one request (issue 14): inside a request that opened a buffer
// (src/oidc/writeBehind.ts, around the protocol and the login steps), the saves and deletes of
// artefacts wait in the buffer and go to PostgreSQL as one statement when the request's work is
// done, before its response leaves. Finds of the same request read the buffer first, so the
// request sees its own writes. Other stores' writes of the request and the audit events that
// record them can ride in the same statement (`alongside`). Outside a request (jobs, the CLI,
// admin), nothing is buffered.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Alongside, StatementPart } from '../db/together.ts';
import type { ArtifactRow, ArtifactWrite } from './artifactStore.ts';

/** What one flush sends: the artefact writes, and what rides along with them. */
export interface HeldUnit {
  writes: BufferedWrite[];
  /**
   * Data-modifying statements of other stores, as CTEs of the flush: parts of one flush see the
   * same snapshot, so they must touch different rows (a request writes each such row once).
   */
  parts: StatementPart[];
  events: unknown[];
  /** The audit log's append of `events` (undefined when there are none). */
  append: ((events: unknown[]) => StatementPart) | undefined;
  /** Told when the unit has committed, or has failed. */
  along: Alongside[];
}

/** One write as it reaches the database: the last one made to its key in the request. */
export type BufferedWrite =
  | { kind: 'save'; write: ArtifactWrite }
  | { kind: 'destroy'; model: string; key: string };

interface Saved {
  kind: 'save';
  write: ArtifactWrite;
  consumedAt: Date | null;
  /** The payload as saved (the write's payload object may have changed since). */
  payloadJson: string;
}
type Entry = Saved | { kind: 'destroy'; model: string; key: string };

const keyOf = (model: string, key: string) => `${model}\u0000${key}`;

/** What the database would hand back for a payload saved as `json`: a copy, as jsonb stores it. */
const parsed = (json: string): Record<string, unknown> => JSON.parse(json);

/** The writes of one request not yet sent, one per key (a later write to a key replaces it). */
export class WriteBuffer {
  private readonly entries = new Map<string, Entry>();
  private along: Alongside[] = [];
  /** Set once the request's writes were taken for its flush: later writes go out at once. */
  closed = false;

  get size(): number {
    return this.entries.size;
  }

  /** Writes of another store and the audit events recording them, sent with the flush. */
  alongside(entry: Alongside): void {
    this.along.push(entry);
  }

  /**
   * A save; its payload is serialised now, once: what the caller changes afterwards is not
   * written, and the text is both what the flush sends and what a find of the key reads back.
   * `consumedAt`: the row's consumption as the caller knows it (a save never changes it).
   */
  save(write: ArtifactWrite, consumedAt: Date | null = null): void {
    const k = keyOf(write.model, write.key);
    this.entries.delete(k);
    const payloadJson = JSON.stringify(write.payload);
    this.entries.set(k, {
      kind: 'save',
      write: { ...write, payloadJson },
      consumedAt,
      payloadJson,
    });
  }

  destroy(model: string, key: string): void {
    const k = keyOf(model, key);
    this.entries.delete(k);
    this.entries.set(k, { kind: 'destroy', model, key });
  }

  has(model: string, key: string): boolean {
    return this.entries.has(keyOf(model, key));
  }

  /**
   * The row as this request left it: undefined when the request did not write the key (ask the
   * database), null when it deleted it, else a copy of what it saved.
   */
  lookup(model: string, key: string): ArtifactRow | null | undefined {
    const entry = this.entries.get(keyOf(model, key));
    if (!entry) return undefined;
    if (entry.kind === 'destroy') return null;
    return { payload: parsed(entry.payloadJson), consumed_at: entry.consumedAt };
  }

  /** A Session this request saved, by its uid (undefined when it saved none with that uid). */
  sessionByUid(uid: string): ArtifactRow | undefined {
    for (const entry of this.entries.values()) {
      if (
        entry.kind === 'save' &&
        entry.write.model === 'Session' &&
        entry.write.sessionUid === uid
      )
        return {
          payload: parsed(entry.payloadJson),
          consumed_at: entry.consumedAt,
          id: entry.write.key,
        };
    }
    return undefined;
  }

  /** A key consumed in the database during the request: a buffered save of it reads consumed. */
  consumed(model: string, key: string, at: Date): void {
    const entry = this.entries.get(keyOf(model, key));
    if (entry?.kind === 'save') entry.consumedAt = at;
  }

  /**
   * Rows of a grant deleted in the database during the request (a revocation): the saves of
   * them (and of the Grant itself) this request still holds would bring them back, so they go
   * too (those of `model` only, when given).
   */
  dropGrant(grantId: string, model?: string): void {
    for (const [k, entry] of this.entries) {
      if (entry.kind !== 'save' || (model !== undefined && entry.write.model !== model)) continue;
      const ofGrant =
        entry.write.grantId === grantId ||
        (entry.write.model === 'Grant' && entry.write.key === grantId);
      if (ofGrant) this.entries.delete(k);
    }
  }

  /** Everything held so far, emptied from the buffer (which stays open unless `close`). */
  take({ close }: { close: boolean }): HeldUnit {
    if (close) this.closed = true;
    const writes: BufferedWrite[] = [...this.entries.values()].map((e) =>
      e.kind === 'save' ? { kind: 'save', write: e.write } : e,
    );
    const along = this.along;
    this.entries.clear();
    this.along = [];
    return {
      writes,
      parts: along.flatMap((a) => a.parts),
      events: along.flatMap((a) => a.events),
      append: along.find((a) => a.events.length > 0)?.append,
      along,
    };
  }
}

/** The request-scoped buffers of one artefact store. */
export function requestWrites(send: (unit: HeldUnit) => Promise<void>) {
  const requests = new AsyncLocalStorage<{ owner: object; buffer: WriteBuffer }>();

  /** Sends what `buffer` holds now (nothing when it is empty). */
  async function flush(buffer: WriteBuffer, close: boolean): Promise<void> {
    const unit = buffer.take({ close });
    if (unit.writes.length === 0 && unit.parts.length === 0 && unit.events.length === 0) return;
    try {
      await send(unit);
    } catch (err) {
      const told = unit.along.map((a) => a.failed(err));
      throw told.find((e) => e !== undefined) ?? err;
    }
    for (const a of unit.along) a.committed();
  }

  return {
    /** The buffer of the request in progress, if any and still open. */
    current(): WriteBuffer | undefined {
      const buffer = requests.getStore()?.buffer;
      return buffer && !buffer.closed ? buffer : undefined;
    },

    /** True inside `owner`'s own buffer (a request whose writes are held already). */
    heldFor(owner: object): boolean {
      return requests.getStore()?.owner === owner;
    },

    /**
     * Runs `work` with a buffer of its own, for `owner` (the request); `flush` sends what it
     * held, in one statement, and closes it (later writes go out at once, as outside a request).
     * Whatever buffer the caller's context carried (work an earlier request set going) is not
     * this request's: it is never written to from here.
     */
    begin(owner: object) {
      const buffer = new WriteBuffer();
      return {
        run: <T>(work: () => T): T => requests.run({ owner, buffer }, work),
        flush: () => flush(buffer, true),
      };
    },

    /** Sends what the current request holds now, leaving its buffer open. */
    flushNow: (buffer: WriteBuffer) => flush(buffer, false),
  };
}

export type RequestWrites = ReturnType<typeof requestWrites>;
