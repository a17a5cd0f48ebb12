// The resilience suite (`npm run test:resilience`, PostgreSQL only): two Portcullis processes on one
// database through a TCP proxy of the suite's own. Sign-ins alternating between them, simultaneous
// replays, database faults under load, and 20,000 fuzzed requests; figures printed at the end.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { type Cluster, KEYS_REFRESH_SECONDS, startCluster, waitFor } from './support/cluster.ts';
import {
  clientCredentials,
  introspect,
  isActive,
  json,
  redeemCode,
  refresh,
  signIn,
  type Tokens,
} from './support/flows.ts';
import { runFuzzer } from './support/fuzzRun.ts';
import { startLoad } from './support/load.ts';

const SKIP = process.env.TEST_DATABASE_URL
  ? false
  : 'TEST_DATABASE_URL is not set: the resilience suite needs a PostgreSQL server (e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run test:resilience)';
if (SKIP) console.log(`resilience suite skipped: ${SKIP}`);

const SEED = process.env.RESILIENCE_SEED
  ? Number(process.env.RESILIENCE_SEED)
  : Math.floor(Math.random() * 2 ** 31);
const ROUNDS = 20;
const figures: Record<string, unknown> = { seed: SEED };

describe('resilience: two instances on one database', { skip: SKIP }, () => {
  let cluster: Cluster;
  const [A, B] = [0, 1] as const;

  before(async () => {
    cluster = await startCluster();
  });

  const seconds: Record<string, number> = {};
  figures.seconds = seconds;
  let testStarted = 0;
  beforeEach(() => {
    testStarted = Date.now();
  });
  afterEach((t) => {
    seconds[t.name.split(':')[0]!] = (Date.now() - testStarted) / 1000;
  });

  after(async () => {
    await cluster?.close();
    console.log(
      `\nresilience figures (instance logs: ${cluster?.instances[0].logFile.replace(/A.log$/, '')}) (replay with RESILIENCE_SEED=${SEED}):\n${JSON.stringify(figures, null, 2)}`,
    );
  });

  const auditEvents = async (action: string, actorId?: string) => {
    const events = [];
    let after: number | undefined;
    do {
      const page = await cluster.seed.services.audit.query({
        action,
        actorType: actorId ? 'client' : undefined,
        actorId,
        after,
        limit: 500,
      });
      events.push(...page.events);
      after = page.next;
    } while (after !== undefined);
    return events;
  };

  test('sign-ins alternate between the instances; a token of one is introspected and refreshed on the other', {
    timeout: 60_000,
  }, async () => {
    const [a, b] = [cluster.instances[A], cluster.instances[B]];
    for (const email of ['user1@example.com', 'user2@example.com', 'user3@example.com']) {
      const { code, verifier, served } = await signIn(cluster, email);
      assert.ok(
        served.includes('A') && served.includes('B'),
        `the sign-in used both instances: ${served}`,
      );
      const issued = await redeemCode(cluster, a, code, verifier);
      assert.equal(issued.status, 200, issued.body);
      const tokens = json<Tokens>(issued)!;
      assert.ok(
        isActive(await introspect(b, cluster.web, tokens.access_token)),
        'B knows the token A issued',
      );
      const refreshed = await refresh(cluster, b, tokens.refresh_token!);
      assert.equal(refreshed.status, 200, refreshed.body);
      assert.ok(
        isActive(await introspect(a, cluster.web, json<Tokens>(refreshed)!.access_token)),
        'A knows the token B issued',
      );
    }
  });

  test('a staged key is published by both instances within KEYS_REFRESH_SECONDS', {
    timeout: 60_000,
  }, async () => {
    const staged = await runCli(['keys', 'rotate', '--json'], cluster.cliEnv);
    assert.equal(staged.code, 0, staged.stderr);
    const kid = JSON.parse(staged.stdout).kid as string;
    const committed = Date.now();
    const published: Record<string, number> = {};
    await Promise.all(
      cluster.instances.map(async (instance) => {
        published[instance.name] = await waitFor(
          `${kid} in the JWKS of ${instance.name}`,
          async () => {
            const jwks = (await (await fetch(`${instance.origin}/jwks`)).json()) as {
              keys: { kid: string }[];
            };
            return jwks.keys.some((k) => k.kid === kid) ? Date.now() - committed : undefined;
          },
          KEYS_REFRESH_SECONDS * 1000 + 5_000,
          25,
        );
      }),
    );
    figures.keyPublishedMs = published;
    for (const [name, ms] of Object.entries(published))
      assert.ok(
        ms <= KEYS_REFRESH_SECONDS * 1000,
        `instance ${name} published the staged key after ${ms} ms`,
      );
  });

  test(`simultaneous replays split across both instances, ${ROUNDS} rounds each: grant revoked, one *.reused event`, {
    timeout: 120_000,
  }, async () => {
    const [a, b] = [cluster.instances[A], cluster.instances[B]];
    const winners = { code: 0, refresh: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const user = `user${(round % 3) + 1}@example.com`;
      // The same code at both instances at once: at most one wins, and the winner's tokens die.
      const first = await signIn(cluster, user);
      const codeResults = await Promise.all(
        [a, b].map((at) => redeemCode(cluster, at, first.code, first.verifier)),
      );
      const codeWins = codeResults.filter((r) => r.status === 200);
      assert.ok(
        codeWins.length <= 1,
        `round ${round}: the code was redeemed ${codeWins.length} times`,
      );
      for (const r of codeResults.filter((r) => r.status !== 200))
        assert.equal(json(r)?.error, 'invalid_grant', `round ${round}: ${r.status} ${r.body}`);
      for (const win of codeWins) {
        winners.code++;
        const tokens = json<Tokens>(win)!;
        assert.equal(
          isActive(await introspect(b, cluster.web, tokens.access_token)),
          false,
          `round ${round}: the winning access token still works`,
        );
        assert.equal(
          (await refresh(cluster, a, tokens.refresh_token!)).status,
          400,
          `round ${round}: the winning refresh token still works`,
        );
      }
      // The same refresh token at both instances at once.
      const second = await signIn(cluster, user);
      const issued = await redeemCode(cluster, b, second.code, second.verifier);
      assert.equal(issued.status, 200, issued.body);
      const original = json<Tokens>(issued)!;
      const refreshResults = await Promise.all(
        [a, b].map((at) => refresh(cluster, at, original.refresh_token!)),
      );
      const refreshWins = refreshResults.filter((r) => r.status === 200);
      assert.ok(
        refreshWins.length <= 1,
        `round ${round}: the refresh token was used ${refreshWins.length} times`,
      );
      for (const r of refreshResults.filter((r) => r.status !== 200))
        assert.equal(json(r)?.error, 'invalid_grant', `round ${round}: ${r.status} ${r.body}`);
      assert.equal(
        isActive(await introspect(a, cluster.web, original.access_token)),
        false,
        `round ${round}: the grant's first access token still works`,
      );
      for (const win of refreshWins) {
        winners.refresh++;
        const tokens = json<Tokens>(win)!;
        assert.equal(
          isActive(await introspect(a, cluster.web, tokens.access_token)),
          false,
          `round ${round}: the winning access token still works`,
        );
        assert.equal(
          (await refresh(cluster, b, tokens.refresh_token!)).status,
          400,
          `round ${round}: the winning refresh token still works`,
        );
      }
    }
    // Events are committed before the response; the short wait covers an asynchronous appender.
    const counts: Record<string, number> = {};
    for (const action of ['authorization_code.reused', 'refresh_token.reused']) {
      const events = await waitFor(
        `${ROUNDS} ${action} events`,
        async () => {
          const found = await auditEvents(action);
          return found.length >= ROUNDS ? found : undefined;
        },
        10_000,
        100,
      ).catch(async () => auditEvents(action));
      counts[action] = events.length;
      assert.equal(
        events.length,
        ROUNDS,
        `${action}: ${events.length} events for ${ROUNDS} replays`,
      );
      assert.equal(
        new Set(events.map((e) => e.target?.id)).size,
        ROUNDS,
        `${action}: one event per grant`,
      );
    }
    figures.replays = { rounds: ROUNDS, winners, events: counts };
  });

  test('database faults under load: clean 503s, recovery within 2 s, audit intact, every token audited', {
    timeout: 120_000,
  }, async () => {
    const problems: string[] = [];
    const load = startLoad(cluster.instances, cluster.machines);
    const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // Time until each instance issues a token again, probing every 25 ms.
    const recovery = async (from: number) => {
      const times: Record<string, number> = {};
      await Promise.all(
        cluster.instances.map(async (instance) => {
          times[instance.name] = await waitFor(
            `${instance.name} to issue tokens again`,
            async () =>
              (await clientCredentials(instance, cluster.machines[0]!)).status === 200
                ? Date.now() - from
                : undefined,
            15_000,
            25,
          );
        }),
      );
      return times;
    };
    try {
      await waitFor(
        'the load to get tokens from both instances',
        () => (load.report.lastOk.A && load.report.lastOk.B ? true : undefined),
        10_000,
      );
      // 1. Every connection of both instances killed by the database.
      const ports = cluster.proxy.upstreamPorts();
      const killed = await cluster.db.knex.raw(
        'select count(pg_terminate_backend(pid)) as n from pg_stat_activity where client_port = any(?)',
        [ports],
      );
      const terminatedAt = Date.now();
      const afterTerminate = await recovery(terminatedAt);
      await settle(500);
      // 2. The database unreachable: open connections cut, new ones refused, for 4 s.
      await cluster.proxy.close();
      const cutAt = Date.now();
      const readyz: Record<string, { status: number; ms: number }> = {};
      for (const instance of cluster.instances) {
        const started = Date.now();
        const res = await fetch(`${instance.origin}/readyz`, {
          signal: AbortSignal.timeout(10_000),
        });
        readyz[instance.name] = { status: res.status, ms: Date.now() - started };
      }
      await settle(Math.max(0, 4_000 - (Date.now() - cutAt)));
      await cluster.proxy.open();
      const restoredAt = Date.now();
      const afterOutage = await recovery(restoredAt);
      await settle(1_000);
      const report = await load.stop();
      figures.faults = {
        backendsTerminated: Number(killed.rows[0].n),
        recoveryAfterTerminateMs: afterTerminate,
        outageMs: restoredAt - cutAt,
        readyzDuringOutage: readyz,
        recoveryAfterOutageMs: afterOutage,
        load: {
          requests: report.requests,
          ok: report.ok,
          clean503: report.clean503,
          with_retry_after: report.retryAfter503,
          bad: report.bad.length,
        },
      };
      if (report.bad.length) {
        const kinds = new Map<string, number>();
        for (const b of report.bad) {
          const key = `${b.endpoint} at ${b.instance}: ${b.what}`;
          kinds.set(key, (kinds.get(key) ?? 0) + 1);
        }
        problems.push(
          `${report.bad.length} answers were neither a success nor a clean 503:`,
          ...[...kinds].map(([what, n]) => `  ${n} × ${what}`),
        );
      }
      for (const [name, ms] of Object.entries(afterOutage))
        if (ms > 2_000)
          problems.push(`instance ${name} recovered ${ms} ms after the database returned`);
      for (const [name, r] of Object.entries(readyz))
        if (r.status !== 503 || r.ms > 1_000)
          problems.push(
            `/readyz of ${name} during the outage: ${r.status} after ${r.ms} ms (503 within 1 s expected)`,
          );
    } finally {
      await load.stop();
    }
    const verify = await runCli(['audit', 'verify'], cluster.cliEnv);
    if (verify.code !== 0 || !/^audit chain intact: \d+ events\n$/.test(verify.stdout))
      problems.push(
        `portcullis audit verify: exit ${verify.code}: ${verify.stdout}${verify.stderr}`,
      );
    // token.issued names no token, only its client: each load client has one (every token it
    // got is counted against the events recorded for it).
    const audited: Record<string, { received: number; events: number }> = {};
    for (const [clientId, tokens] of load.report.received) {
      const events = await waitFor(
        'token.issued events',
        async () => {
          const found = await auditEvents('token.issued', clientId);
          return found.length >= tokens.length ? found : undefined;
        },
        10_000,
        100,
      ).catch(() => auditEvents('token.issued', clientId));
      audited[clientId] = { received: tokens.length, events: events.length };
    }
    figures.tokensVsEvents = audited;
    for (const [clientId, { received, events }] of Object.entries(audited))
      if (events < received)
        problems.push(
          `client ${clientId} received ${received} tokens, ${events} token.issued events`,
        );
    // Every check is listed at once, so one run shows all that is wrong.
    assert.equal(problems.length, 0, problems.join('\n'));
  });

  test('20,000 fuzzed requests: no 5xx, no stack trace or secret in a response or log line, no leak', {
    timeout: 360_000,
  }, async (t) => {
    const fuzz: Record<string, unknown> = {};
    figures.fuzz = fuzz;
    const result = await runFuzzer(cluster, SEED, fuzz, t.signal);
    // Every kind of problem listed at once (a few of each), so one run shows all that is wrong.
    const exited = cluster.instances
      .filter((i) => i.child.exitCode !== null)
      .map((i) => `instance ${i.name} exited`);
    const memory = result.memory.flatMap((m) => [
      ...(m.leaked ? [`live heap of ${m.instance} grew: ${JSON.stringify(m)}`] : []),
      ...(m.runaway ? [`RSS of ${m.instance} ran away: ${JSON.stringify(m)}`] : []),
    ]);
    const problems = [
      ...exited,
      ...(result.failed
        ? [`${result.failed} fuzzed requests failed:`, ...result.failures.slice(0, 20)]
        : []),
      ...(result.logProblems.length
        ? [
            `${result.logProblems.length} kinds of log line are not clean (count × line):`,
            ...result.logProblems.slice(0, 8),
          ]
        : []),
      ...memory,
    ];
    fuzz.logProblems = result.logProblems.length;
    assert.equal(problems.length, 0, `replay with RESILIENCE_SEED=${SEED}\n${problems.join('\n')}`);
  });
});
