// A request rate limit as people write it ("N/SECONDS": N requests per window of SECONDS) and as
// it is stored in a client's metadata ({ requests, window_seconds }).

export interface RateLimit {
  requests: number;
  windowSeconds: number;
}

/** High enough that normal use and the benchmark (~2,000 requests/s per client) never meet it. */
export const DEFAULT_CLIENT_RATE_LIMIT = '100000/10';
export const MAX_REQUESTS = 1_000_000_000;
export const MAX_WINDOW_SECONDS = 86_400;

/** Why a limit is not valid, or undefined. */
export function rateLimitProblem(limit: RateLimit): string | undefined {
  const { requests, windowSeconds } = limit;
  if (!Number.isInteger(requests) || requests < 1 || requests > MAX_REQUESTS)
    return `the number of requests must be a whole number from 1 to ${MAX_REQUESTS}`;
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > MAX_WINDOW_SECONDS)
    return `the window must be a whole number of seconds from 1 to ${MAX_WINDOW_SECONDS}`;
  return undefined;
}

/** "N/SECONDS" -> the limit, or a message saying what is wrong. */
export function parseRateLimit(text: string): RateLimit | string {
  const match = /^\s*(\d{1,10})\s*\/\s*(\d{1,6})\s*$/.exec(text);
  if (!match) return 'must be N/SECONDS, e.g. 600/60 for 600 requests a minute';
  const limit = { requests: Number(match[1]), windowSeconds: Number(match[2]) };
  return rateLimitProblem(limit) ?? limit;
}

export const formatRateLimit = (limit: RateLimit) => `${limit.requests}/${limit.windowSeconds}`;

/** The limit in client metadata (`rate_limit`), when it holds a valid one. */
export function rateLimitOfMetadata(value: unknown): RateLimit | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const { requests, window_seconds: windowSeconds } = value as Record<string, unknown>;
  const limit = { requests, windowSeconds } as RateLimit;
  return rateLimitProblem(limit) === undefined ? limit : undefined;
}

export const rateLimitMetadata = (limit: RateLimit) => ({
  requests: limit.requests,
  window_seconds: limit.windowSeconds,
});
