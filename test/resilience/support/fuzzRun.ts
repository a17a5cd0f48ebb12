// Runs the fuzzer against both instances: finds every endpoint (discovery, the interaction pages,
// the admin API's OpenAPI document, /reg), sends the cases with keep-alive and concurrency, and
// checks each answer, the processes' log lines and their memory.
import { authorizationUrl, HttpBrowser, pkce } from '../../support/browserless.ts';
import { type Cluster, REDIRECT_URI, RES_API } from './cluster.ts';
import { clientCredentials, json } from './flows.ts';
import { type FuzzContext, leak, makeCase, type Target } from './fuzz.ts';
import { type Outcome, send, sendRaw } from './http.ts';

export const FUZZ_REQUESTS = 20_000;

/**
 * /readyz answering 503 because a check outran its time limit while the machine is saturated is
 * readiness doing its job (take the instance out of rotation), not a fault: every other check
 * must still be "ok", so a check that failed outright stays a failure.
 */
function readinessTimedOut(label: string, outcome: Outcome): boolean {
  if (outcome.status !== 503 || !label.includes('/readyz')) return false;
  try {
    const body = JSON.parse(outcome.body) as { status?: string; checks?: Record<string, string> };
    const checks = Object.values(body.checks ?? {});
    return (
      body.status === 'not ready' &&
      checks.some((c) => c.startsWith('timed out')) &&
      checks.every((c) => c === 'ok' || c.startsWith('timed out'))
    );
  } catch {
    return false;
  }
}
const WARM_UP = 2_000;
const CONCURRENCY = 32;
/** Live heap after the fuzz may exceed the warmed-up one by this factor plus the slack. */
const HEAP_GROWTH = 1.05;
const HEAP_SLACK_KIB = 2048;
/**
 * RSS only guards against runaway native growth, as a ceiling: a ratio to the warmed-up RSS
 * failed on a run whose warm-up left 95 MB (+64 % to 156 MB with the live heap flat).
 */
const RSS_CEILING_KIB = 320 * 1024;

const INTERACTION_POSTS = [
  'login',
  'passkey/options',
  'passkey',
  'totp',
  'recovery',
  'webauthn/options',
  'webauthn',
  'enrol/totp',
  'enrol/webauthn/options',
  'enrol/webauthn',
  'continue',
  'consent',
  'abort',
];
const ACCOUNT_PAGES: [string, string[]][] = [
  ['/account', ['GET']],
  ['/account/callback', ['GET']],
  ['/account/clients/{clientId}/revoke', ['POST']],
  ['/account/reauth', ['POST']],
  ['/account/totp', ['GET', 'POST']],
  ['/account/totp/remove', ['POST']],
  ['/account/webauthn', ['GET']],
  ['/account/webauthn/options', ['POST']],
  ['/account/webauthn/{id}/remove', ['POST']],
  ['/account/recovery-codes', ['POST']],
  ['/readyz', ['GET']],
  ['/healthz', ['GET']],
  ['/', ['GET']],
];

async function fuzzContext(cluster: Cluster): Promise<FuzzContext> {
  const origin = cluster.instances[0].origin;
  const discovery = (await (
    await fetch(`${origin}/.well-known/openid-configuration`)
  ).json()) as Record<string, unknown>;
  const targets: Target[] = [
    { kind: 'discovery', methods: ['GET', 'POST'], path: '/.well-known/openid-configuration' },
  ];
  for (const [key, value] of Object.entries(discovery)) {
    if ((key.endsWith('_endpoint') || key === 'jwks_uri') && typeof value === 'string') {
      const path = new URL(value).pathname;
      targets.push({
        kind: key === 'registration_endpoint' ? 'reg' : 'discovery',
        methods: ['GET', 'POST'],
        path,
      });
      if (key === 'registration_endpoint')
        targets.push({
          kind: 'reg',
          methods: ['GET', 'PUT', 'DELETE'],
          path: `${path}/{clientId}`,
        });
    }
  }
  targets.push({ kind: 'interaction', methods: ['GET'], path: '/interaction/{uid}' });
  for (const step of INTERACTION_POSTS)
    targets.push({ kind: 'interaction', methods: ['POST'], path: `/interaction/{uid}/${step}` });
  for (const [path, methods] of ACCOUNT_PAGES) targets.push({ kind: 'page', methods, path });

  const adminToken = json<{ access_token: string }>(
    await clientCredentials(cluster.instances[0], cluster.admin, `${cluster.issuer}/admin/v1`),
  )?.access_token;
  if (!adminToken) throw new Error('no admin token');
  const openapi = (await (
    await fetch(`${origin}/admin/v1/openapi.json`, {
      headers: { authorization: `Bearer ${adminToken}` },
    })
  ).json()) as {
    servers?: { url: string }[];
    paths: Record<string, Record<string, unknown>>;
  };
  const base = openapi.servers?.[0]
    ? new URL(openapi.servers[0].url, origin).pathname.replace(/\/$/, '')
    : '/admin/v1';
  for (const [path, ops] of Object.entries(openapi.paths)) {
    const methods = Object.keys(ops)
      .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
      .map((m) => m.toUpperCase());
    if (methods.length)
      targets.push({ kind: 'admin', methods, path: `${path.startsWith(base) ? '' : base}${path}` });
  }

  // A live interaction, so its pages are reached past "unknown interaction".
  const browser = new HttpBrowser();
  const { challenge } = pkce();
  const start = await browser.request(
    authorizationUrl({
      issuer: origin,
      clientId: cluster.web.id,
      redirectUri: REDIRECT_URI,
      scope: 'openid ledger:read',
      resource: RES_API,
      challenge,
      state: 'fuzz',
    }),
  );
  const uid = /\/interaction\/([^/?]+)/.exec(start.location ?? '')?.[1];
  if (!uid) throw new Error(`no interaction started: ${start.status}`);
  return {
    targets,
    clientId: cluster.web.id,
    redirectUri: REDIRECT_URI,
    adminToken,
    interaction: { uid, cookie: browser.jar.header(`${origin}/interaction/${uid}`) },
  };
}

/** Log lines (every one the processes wrote so far): JSON, no stack trace, no secret. */
/**
 * Log lines (every one the processes wrote so far) that are not one JSON line, or carry a stack
 * trace or a known secret; the same text is listed once, with how often it came.
 */
export function logProblems(cluster: Cluster, secrets: string[]): string[] {
  const problems = new Map<string, number>();
  const note = (what: string) => problems.set(what, (problems.get(what) ?? 0) + 1);
  for (const instance of cluster.instances) {
    for (const line of instance.lines) {
      if (/^oidc-provider WARNING: Unsupported runtime/.test(line)) continue;
      // The memory check opens the inspector (heap.ts), and Node says so on stderr.
      if (
        /^(Debugger (listening on|attached|ending on)|For help, see: https:\/\/nodejs\.org)/.test(
          line,
        )
      )
        continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        note(`not a JSON log line: ${line.slice(0, 200)}`);
        continue;
      }
      // errorFacts() logs the one place an error was raised (`err.at`, "file:line:column") by
      // design: a single frame, not a trace. Everything else is checked.
      const err = (parsed as { err?: { at?: unknown } } | null)?.err;
      if (err && typeof err.at === 'string' && !err.at.includes('\n')) delete err.at;
      const text = JSON.stringify(parsed, null, 1).replace(/\\n/g, '\n');
      const found =
        leak(text, secrets) ?? (/"stack":"[^"]/.test(line) ? 'a stack field' : undefined);
      // Without the fields that differ per line (time, request id), so repeats group.
      if (found) note(`${found}: ${line.replace(/"(time|reqId)":"[^"]*",?/g, '').slice(0, 300)}`);
    }
  }
  return [...problems].map(([what, count]) => `${count} × ${what}`);
}

/** `figures` is filled in as the run goes, so a run cut short still shows how far it got. */
export async function runFuzzer(
  cluster: Cluster,
  seed: number,
  figures: Record<string, unknown>,
  /** The test's signal: a run cut short by its timeout stops sending. */
  signal: AbortSignal,
) {
  const ctx = await fuzzContext(cluster);
  const secrets = [...cluster.secrets, ctx.adminToken];
  const byStatus: Record<string, number> = {};
  const noAnswer: Record<string, number> = {};
  const failures = new Map<string, { count: number; example: string }>();
  const byKind: Record<string, number> = {};
  let sent = 0;
  Object.assign(figures, { requests: 0, byStatus, noAnswer, byKind, targets: ctx.targets.length });
  const check = (index: number, label: string, outcome: Outcome) => {
    figures.requests = ++sent;
    byStatus[outcome.status] = (byStatus[outcome.status] ?? 0) + 1;
    if (outcome.status === 0) {
      const error = 'error' in outcome ? outcome.error : '';
      noAnswer[error] = (noAnswer[error] ?? 0) + 1;
    }
    const headers = 'headers' in outcome ? JSON.stringify(outcome.headers) : '';
    const problem =
      outcome.status >= 500 && !readinessTimedOut(label, outcome)
        ? `status ${outcome.status}`
        : (leak(outcome.body, secrets) ??
          (/injected/i.test(headers) ? 'an injected header came back' : undefined));
    if (!problem) return;
    // Grouped by endpoint, method and problem: one line (with a case to replay) per distinct fault.
    const where = `${label.slice(0, label.indexOf(']') + 1)} ${problem}`;
    const group = failures.get(where);
    if (group) group.count++;
    else
      failures.set(where, {
        count: 1,
        example: `case ${index} (${label.slice(label.indexOf(']') + 2)}): ${outcome.body.slice(0, 160)}`,
      });
  };
  const run = async (from: number, count: number) => {
    let next = from;
    const worker = async () => {
      for (let i = next++; i < from + count && !signal.aborted; i = next++) {
        const c = makeCase(seed, i, ctx);
        const kind = /\[(\w+)\]/.exec(c.label)?.[1] ?? '';
        byKind[kind] = (byKind[kind] ?? 0) + 1;
        const instance = cluster.instances[i % 2]!;
        const outcome =
          c.via === 'raw'
            ? await sendRaw(instance.origin, c.bytes)
            : await send(instance.origin, {
                method: c.method,
                path: c.path,
                headers: c.headers,
                body: c.body,
              });
        check(i, c.label, outcome);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  };
  // Warm-up (cases after the measured ones): JIT code and caches grow once, then the baseline.
  await run(FUZZ_REQUESTS, WARM_UP);
  const heapBefore = await Promise.all(cluster.instances.map((i) => i.liveHeapKiB()));
  const rssBefore = cluster.instances.map((i) => i.rssKiB());
  const started = Date.now();
  await run(0, FUZZ_REQUESTS);
  const seconds = (Date.now() - started) / 1000;
  const rssAfter = cluster.instances.map((i) => i.rssKiB());
  const heapAfter = await Promise.all(cluster.instances.map((i) => i.liveHeapKiB()));
  const memory = cluster.instances.map((instance, n) => {
    const heap = { beforeKiB: heapBefore[n]!, afterKiB: heapAfter[n]! };
    const rss = { beforeKiB: rssBefore[n]!, afterKiB: rssAfter[n]! };
    return {
      instance: instance.name,
      heap,
      rss,
      // A leak keeps what requests allocated: live objects after a full collection grow with
      // them. The allowance covers caches that fill once (compiled schemas, label sets).
      leaked: heap.afterKiB > heap.beforeKiB * HEAP_GROWTH + HEAP_SLACK_KIB,
      // V8 and malloc keep what they grew, so RSS is held to a ceiling, not to its start.
      runaway: rss.afterKiB > RSS_CEILING_KIB,
    };
  });
  const failed = [...failures.values()].reduce((n, g) => n + g.count, 0);
  Object.assign(figures, { seconds, failures: failed, memory });
  return {
    failures: [...failures].map(
      ([where, g]) => `${g.count} × ${where}; e.g. seed ${seed} ${g.example}`,
    ),
    failed,
    logProblems: logProblems(cluster, secrets),
    memory,
  };
}
