// RFC 9457 problem details for the admin API: the Problem error every part of the API throws,
// and the one place where any error (validation, domain, authentication, unexpected) becomes an
// application/problem+json response. Nothing else of an error (no stack, no input) goes out.
import type Koa from 'koa';
import type { z } from 'zod';
import { asUnavailable, RETRY_AFTER_SECONDS } from '../db/unavailable.ts';
import { DomainError } from '../errors.ts';
import { errorFacts, type Logger } from '../log.ts';

export const PROBLEM_TYPE_PREFIX = 'urn:portcullis:problem:';

/** One field at fault: `pointer` (JSON Pointer into the body, RFC 6901) or a `parameter`. */
export interface FieldProblem {
  pointer?: string;
  parameter?: string;
  detail: string;
}

export class Problem extends Error {
  override name = 'Problem';
  constructor(
    readonly status: number,
    /** The last part of the type URI, e.g. `validation` or `insufficient_scope`. */
    readonly kind: string,
    readonly title: string,
    detail: string,
    readonly extra: {
      errors?: FieldProblem[];
      /** The OAuth error code (RFC 6750) of authentication problems. */
      error?: string;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(detail);
  }
}

const pointerOf = (path: PropertyKey[]) =>
  `#/${path.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;

/**
 * Turns zod issues into field problems, one per field (zod may add a length issue after a type
 * issue on the same value; the first says it); unknown keys each get their own entry.
 */
export function fieldProblems(
  issues: z.core.$ZodIssue[],
  where: 'body' | 'query' | 'path',
): FieldProblem[] {
  const out: FieldProblem[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    const paths =
      issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
    for (const path of paths) {
      const key = JSON.stringify(path);
      if (seen.has(key)) continue;
      seen.add(key);
      const detail = issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
      out.push(
        where === 'body'
          ? { pointer: pointerOf(path), detail }
          : { parameter: String(path[0] ?? ''), detail },
      );
    }
  }
  return out;
}

export const problems = {
  validation: (errors: FieldProblem[]) =>
    new Problem(
      400,
      'validation',
      'The request is not valid',
      errors.length === 1
        ? `${errors[0]!.pointer ?? errors[0]!.parameter}: ${errors[0]!.detail}`
        : `${errors.length} fields are not valid`,
      { errors },
    ),
  badRequest: (detail: string) => new Problem(400, 'bad_request', 'Bad request', detail),
  unsupportedMediaType: () =>
    new Problem(
      415,
      'unsupported_media_type',
      'Unsupported media type',
      'send the request body as application/json',
    ),
  tooLarge: (limit: number) =>
    new Problem(413, 'too_large', 'Request body too large', `at most ${limit} bytes`),
  tooManyRequests: (retryAfterSeconds: number) =>
    new Problem(
      429,
      'rate_limited',
      'Too many requests',
      `this client has used its request limit: retry after ${retryAfterSeconds} seconds`,
      { headers: { 'Retry-After': String(retryAfterSeconds) } },
    ),
  notFound: (detail = 'no such resource') => new Problem(404, 'not_found', 'Not found', detail),
  methodNotAllowed: (allow: string[]) =>
    new Problem(
      405,
      'method_not_allowed',
      'Method not allowed',
      `this resource allows ${allow.join(', ')}`,
      { headers: { Allow: allow.join(', ') } },
    ),
};

const DOMAIN: Record<DomainError['code'], { status: number; kind: string; title: string }> = {
  invalid_input: { status: 400, kind: 'validation', title: 'The request is not valid' },
  not_found: { status: 404, kind: 'not_found', title: 'Not found' },
  conflict: { status: 409, kind: 'conflict', title: 'Conflict' },
  forbidden: { status: 403, kind: 'forbidden', title: 'Forbidden' },
};

function fromDomain(err: DomainError): Problem {
  const { status, kind, title } = DOMAIN[err.code];
  const errors = err.field ? [{ pointer: `#/${err.field}`, detail: err.message }] : undefined;
  return new Problem(status, kind, title, err.message, errors ? { errors } : {});
}

/** Writes a problem as the response. */
export function sendProblem(ctx: Koa.Context, problem: Problem): void {
  ctx.status = problem.status;
  for (const [name, value] of Object.entries(problem.extra.headers ?? {})) ctx.set(name, value);
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'application/problem+json';
  ctx.body = {
    type: `${PROBLEM_TYPE_PREFIX}${problem.kind}`,
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    ...(ctx.state.requestId ? { instance: `urn:uuid:${ctx.state.requestId}` } : {}),
    ...(problem.extra.error ? { error: problem.extra.error } : {}),
    ...(problem.extra.errors ? { errors: problem.extra.errors } : {}),
  };
}

/** The admin API's error boundary: every failure becomes problem+json, 5xx logged without detail. */
export function problemHandler(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof Problem) return sendProblem(ctx, err);
      if (err instanceof DomainError) return sendProblem(ctx, fromDomain(err));
      const unavailable = asUnavailable(err);
      if (unavailable) {
        logger.warn(
          { reqId: ctx.state.requestId, what: unavailable.what, reason: unavailable.reason },
          'service unavailable',
        );
        return sendProblem(
          ctx,
          new Problem(
            503,
            'unavailable',
            'Service unavailable',
            'The service is temporarily unavailable. Please try again in a moment.',
            { headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } },
          ),
        );
      }
      logger.error(
        {
          reqId: ctx.state.requestId,
          err: errorFacts(err),
        },
        'admin API request failed',
      );
      sendProblem(
        ctx,
        new Problem(
          500,
          'server_error',
          'Internal server error',
          'The server could not complete the request.',
        ),
      );
    }
  };
}
