// The bounded load of the database-fault test: one worker per client-credentials client, each
// getting a token from one instance and introspecting it at the other, again and again. Every
// answer is classed: a success, a clean 503 in the OAuth error format, or anything else (a 500,
// a 4xx, a reset or timeout, an inactive answer for a live token), which fails the test.
import type { Instance } from './cluster.ts';
import { clientCredentials, introspect, json } from './flows.ts';
import type { Outcome } from './http.ts';

export interface LoadReport {
  requests: number;
  ok: number;
  clean503: number;
  retryAfter503: number;
  bad: { at: number; endpoint: string; instance: string; what: string }[];
  /** Tokens each client received (access_token values). */
  received: Map<string, string[]>;
  /** Successes per instance, with their time (ms since the epoch). */
  lastOk: Record<string, number>;
}

export function startLoad(instances: Instance[], clients: { id: string; secret: string }[]) {
  const report: LoadReport = {
    requests: 0,
    ok: 0,
    clean503: 0,
    retryAfter503: 0,
    bad: [],
    received: new Map(),
    lastOk: {},
  };
  let running = true;
  const classify = (
    endpoint: string,
    instance: Instance,
    outcome: Outcome,
    good: (o: Outcome) => boolean,
  ) => {
    report.requests++;
    if (outcome.status === 200 && good(outcome)) {
      report.ok++;
      report.lastOk[instance.name] = Date.now();
      return true;
    }
    const body = json(outcome);
    if (
      outcome.status === 503 &&
      typeof body?.error === 'string' &&
      /json/.test(String(outcome.headers['content-type']))
    ) {
      report.clean503++;
      if (outcome.headers['retry-after'] !== undefined) report.retryAfter503++;
      return false;
    }
    const what =
      outcome.status === 0
        ? `no answer (${'error' in outcome ? outcome.error : ''})`
        : `${outcome.status} ${outcome.body.slice(0, 160)}`;
    report.bad.push({ at: Date.now(), endpoint, instance: instance.name, what });
    return false;
  };
  const worker = async (client: { id: string; secret: string }, n: number) => {
    const tokens: string[] = [];
    report.received.set(client.id, tokens);
    for (let i = n; running; i++) {
      const issuer = instances[i % 2]!;
      const other = instances[(i + 1) % 2]!;
      const got = await clientCredentials(issuer, client);
      const token = json<{ access_token?: string }>(got)?.access_token;
      if (!classify('token', issuer, got, () => typeof token === 'string')) {
        // Pacing, not waiting for a state: a refused request comes back at once.
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      tokens.push(token!);
      const seen = await introspect(other, client, token!);
      classify('introspection', other, seen, (o) => json(o)?.active === true);
    }
  };
  const done = Promise.all(clients.map(worker));
  return {
    report,
    async stop() {
      running = false;
      await done;
      return report;
    },
  };
}
