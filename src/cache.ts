// A small time-bounded cache for rows every request reads (clients, API definitions). Other
// instances see a change after at most `ttlMs`; this instance drops its entry at once on writes.
import type { Clock } from './clock.ts';

export interface TtlCache<V> {
  get(key: string, load: () => Promise<V>): Promise<V>;
  delete(key: string): void;
  clear(): void;
}

export function createTtlCache<V>(clock: Clock, ttlMs: number, maxEntries = 10_000): TtlCache<V> {
  const entries = new Map<string, { value: Promise<V>; expires: number }>();
  return {
    async get(key, load) {
      if (ttlMs <= 0) return load();
      const now = clock.now();
      const hit = entries.get(key);
      if (hit && hit.expires > now) return hit.value;
      if (entries.size >= maxEntries) entries.clear();
      const value = load();
      entries.set(key, { value, expires: now + ttlMs });
      value.catch(() => entries.delete(key));
      return value;
    },
    delete(key) {
      entries.delete(key);
    },
    clear() {
      entries.clear();
    },
  };
}
