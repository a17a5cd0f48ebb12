// Reads of other stores that ride in one store's statement (issue 14), as together.ts joins their
// writes: a login step, an authorization code or a refresh token names a person and a login in
// progress, and the artefacts' find reads them in the same round trip. Each store still writes
// its own SQL (a part) and decodes its own rows; the statement that carries the parts only
// passes their JSON through, and serves each row once, to the request that read it.

/**
 * The parts the artefacts' find may carry. Each takes SQL text expressions (a column of the
 * row found, the statement's time) and gives a read of its own tables.
 */
export interface AheadReads {
  /** `(id text, payload jsonb)` of the person whose id is `id` (src/accounts/store.ts). */
  account: (id: string) => string;
  /** A scalar jsonb subquery: the login progress stored under `hash` at `now` (src/mfa/store.ts). */
  progress: (hash: string, now: string) => string;
}

/**
 * What a store asks of the read-ahead: a row's JSON, `null` when looked for and absent, or
 * `false` when it was not read ahead for the request in progress.
 */
export type AheadRecall = (key: string) => Record<string, unknown> | null | false;

/** How a store reaches what was read ahead for it in the request in progress. */
export interface AheadRows {
  /** The row read ahead under `key`, once (see AheadRecall). */
  take: AheadRecall;
  /** Drops everything of this store read ahead for the request (after a write of its own). */
  forget: () => void;
}

/**
 * `store` with `forget` called ahead of each of its functions not named in `reads`: a write to
 * the store's tables may make what the request read ahead stale, so it reads the database again
 * (the request's own writes win). Fail-safe for functions added later: only a listed read keeps
 * the rows.
 */
export function forgettingOnWrite<T extends object>(
  store: T,
  reads: ReadonlySet<string>,
  forget: () => void,
): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(store))
    out[name] =
      typeof fn === 'function' && !reads.has(name)
        ? (...args: unknown[]) => {
            forget();
            return (fn as (...a: unknown[]) => unknown)(...args);
          }
        : fn;
  return out as T;
}
