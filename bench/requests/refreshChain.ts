// Scenario 5: the refresh-token grant with rotation. Each request spends one refresh token of a
// queue and puts back the new one it receives, so every token is used exactly once (a replay
// would revoke its grant). The queue is kept in a state file between load processes; the tokens
// of requests still in flight when a run stops are lost, hence a pool larger than the connections.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { type Expectation, expectation, type Step } from './types.ts';

export interface RefreshChainOptions {
  /** `Basic …` header of the client that owns the tokens. */
  clientAuthorization: string;
  resource: string;
  tokens: string[];
  stateFile: string;
  expect: Expectation;
}

export function steps(o: RefreshChainOptions): { steps: Step[]; finish(): void } {
  const queue: string[] = existsSync(o.stateFile)
    ? (JSON.parse(readFileSync(o.stateFile, 'utf8')) as string[])
    : [...o.tokens];
  const expected = expectation(o.expect);
  const step: Step = {
    method: 'POST',
    path: '/token',
    headers: {
      authorization: o.clientAuthorization,
      'content-type': 'application/x-www-form-urlencoded',
    },
    setup: () => ({
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: queue.shift() ?? 'the-pool-ran-dry',
        resource: o.resource,
      }).toString(),
    }),
    check: (status, body, headers, ctx) => {
      if (status === 200) {
        try {
          const next = (JSON.parse(body) as { refresh_token?: string }).refresh_token;
          if (next) queue.push(next);
        } catch {
          // not JSON (the Koa ceiling): nothing to keep
        }
      }
      return expected(status, body, headers, ctx);
    },
  };
  return { steps: [step], finish: () => writeFileSync(o.stateFile, JSON.stringify(queue)) };
}
