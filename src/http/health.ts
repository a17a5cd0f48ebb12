// Liveness (/healthz: the process answers) and readiness (/readyz: database reachable,
// migrations current, a signing key active). 200 or 503 with a JSON reason.
import type Koa from 'koa';

export interface ReadinessCheck {
  name: string;
  check(): Promise<string | undefined>;
}

export const healthz: Koa.Middleware = (ctx) => {
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { status: 'ok' };
};

export function readyz(checks: ReadinessCheck[]): Koa.Middleware {
  return async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const results: Record<string, string> = {};
    let ready = true;
    for (const { name, check } of checks) {
      let problem: string | undefined;
      try {
        problem = await check();
      } catch {
        problem = 'check failed';
      }
      results[name] = problem ?? 'ok';
      if (problem) ready = false;
    }
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not ready', checks: results };
  };
}
