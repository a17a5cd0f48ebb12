// Liveness (/healthz: the process answers) and readiness (/readyz: database reachable,
// migrations current, a signing key active, the database serving this ISSUER). 200 or 503 with
// a JSON reason naming the failing check. The checks run side by side, each time-boxed, so
// /readyz answers within a second even while the database does not answer at all.
import type Koa from 'koa';

export interface ReadinessCheck {
  name: string;
  check(): Promise<string | undefined>;
}

/** Each check's time box: a load balancer's probe gets its answer within a second. */
export const READINESS_TIMEOUT_MS = 800;

export const healthz: Koa.Middleware = (ctx) => {
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { status: 'ok' };
};

/** The check's problem, 'check failed', or 'timed out' once `timeoutMs` has passed. */
function timeBoxed(check: ReadinessCheck, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = Promise.resolve()
    .then(() => check.check())
    .catch(() => 'check failed');
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`timed out after ${timeoutMs} ms`), timeoutMs);
  });
  // A check still waiting (for a pool connection, say) settles later on its own; its result is
  // dropped and its rejection already handled above.
  return Promise.race([outcome, timeout]).finally(() => clearTimeout(timer));
}

export function readyz(
  checks: ReadinessCheck[],
  { timeoutMs = READINESS_TIMEOUT_MS } = {},
): Koa.Middleware {
  return async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const problems = await Promise.all(checks.map((c) => timeBoxed(c, timeoutMs)));
    const results: Record<string, string> = {};
    checks.forEach(({ name }, i) => {
      results[name] = problems[i] ?? 'ok';
    });
    const ready = problems.every((p) => p === undefined);
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not ready', checks: results };
  };
}
