// The load generator, run as its own process (forked by measure.ts) so it never shares an event
// loop with a server: receives one job over IPC, drives it with autocannon, reports a summary.
import autocannon from 'autocannon';
import type { GeneratorRef, Step, StepContext, StepsFactory } from './requests/types.ts';

export interface LoadJob {
  url: string;
  connections: number;
  seconds: number;
  generator: GeneratorRef;
}

export interface LoadSummary {
  /** Responses received (every step of a multi-step iteration counts). */
  requests: number;
  seconds: number;
  /** Responses per second. */
  rps: number;
  /** Steps per iteration: operations per second = rps / steps. */
  steps: number;
  latencyMs: { p50: number; p99: number; mean: number; max: number };
  /** Responses that were not the expected one (status or body). */
  unexpected: number;
  /** Connection errors (including timeouts) reported by autocannon. */
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** The first unexpected response, to tell what failed. */
  firstUnexpected?: { status: number; body: string };
}

async function loadSteps(ref: GeneratorRef): Promise<{ steps: Step[]; finish?: () => void }> {
  const mod = (await import(`./requests/${ref.module}.ts`)) as { steps: StepsFactory<unknown> };
  const built = mod.steps(ref.options);
  return Array.isArray(built) ? { steps: built } : built;
}

export async function runJob(job: LoadJob): Promise<LoadSummary> {
  const { steps, finish } = await loadSteps(job.generator);
  let unexpected = 0;
  let firstUnexpected: LoadSummary['firstUnexpected'];
  const requests = steps.map((step) => {
    const { setup, check, ...parts } = step;
    return {
      ...parts,
      ...(setup
        ? {
            setupRequest: (req: Record<string, unknown>, ctx: StepContext) => {
              const extra = setup(ctx);
              return {
                ...req,
                ...extra,
                headers: { ...(req.headers as object), ...extra.headers },
              };
            },
          }
        : {}),
      onResponse: (
        status: number,
        body: string,
        ctx: StepContext,
        headers: Record<string, unknown>,
      ) => {
        if (check(status, body, headers, ctx)) return;
        unexpected++;
        firstUnexpected ??= { status, body: String(body).slice(0, 300) };
      },
    };
  });
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.seconds,
    requests: requests as never,
    timeout: 10,
  });
  finish?.();
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) {
    statusCodes[code] = Number((stat as { count: number | string }).count);
  }
  return {
    requests: result.requests.total,
    seconds: result.duration,
    rps: result.requests.total / result.duration,
    steps: steps.length,
    latencyMs: {
      p50: result.latency.p50,
      p99: result.latency.p99,
      mean: result.latency.average,
      max: result.latency.max,
    },
    unexpected,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    ...(firstUnexpected ? { firstUnexpected } : {}),
  };
}

// Run as a child: one job in, one summary out.
if (process.send) {
  process.once('message', (job: LoadJob) => {
    runJob(job).then(
      (summary) => process.send!({ ok: true, summary }, () => process.exit(0)),
      (err: Error) => process.send!({ ok: false, error: err.message }, () => process.exit(1)),
    );
  });
}
