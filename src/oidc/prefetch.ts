// Rows read ahead for the request in progress. A refresh token or authorization code is always
// followed, in the same request, by a lookup of its Grant and (when bound to a browser session)
// of its Session: the artefact store reads both in the token's own query and the adapter keeps
// them here, so the two lookups that follow cost no round trip. Keyed by oidc-provider's request
// context: a row read ahead for one request is never served to another, and each is served once.
import Provider from 'oidc-provider';

export interface PrefetchedRow {
  payload: Record<string, unknown>;
  consumed_at: Date | null;
}

const byRequest = new WeakMap<object, Map<string, PrefetchedRow>>();

const currentRequest = (): object | undefined => (Provider as { ctx?: object }).ctx;

/** Keeps `row` for the current provider request (nothing outside one). */
export function remember(key: string, row: PrefetchedRow): void {
  const ctx = currentRequest();
  if (!ctx) return;
  let rows = byRequest.get(ctx);
  if (!rows) {
    rows = new Map();
    byRequest.set(ctx, rows);
  }
  rows.set(key, row);
}

/** The row kept under `key` for the current request, once; undefined otherwise. */
export function recall(key: string): PrefetchedRow | undefined {
  const ctx = currentRequest();
  const rows = ctx ? byRequest.get(ctx) : undefined;
  const row = rows?.get(key);
  if (row) rows!.delete(key);
  return row;
}

export const grantKey = (grantId: string) => `Grant:${grantId}`;
export const sessionKey = (uid: string) => `Session:${uid}`;
