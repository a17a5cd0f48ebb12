// The admin API's Koa router, built from the same route table as its OpenAPI document: for each
// route, problem details, authentication and the scope check, validation of path, query and body
// against its schemas, the handler, and the response passed through its schema.
import Router from '@koa/router';
import type Koa from 'koa';
import compose from 'koa-compose';
import type { z } from 'zod';
import type { AuditEventInput } from '../audit/log.ts';
import type { ClientLimiter } from '../limits/clientLimiter.ts';
import { errorFacts, type Logger } from '../log.ts';
import { ADMIN_BASE_PATH } from './adminApi.ts';
import { type AdminAuth, type AdminRequest, InsufficientScope, type Principal } from './auth.ts';
import { fieldProblems, problemHandler, problems } from './problem.ts';
import type { AnyRoute } from './route.ts';

const BODY_LIMIT = 256 * 1024;

export interface RouterDeps {
  logger: Logger;
  auth: AdminAuth;
  /** What authentication looks at in a request (its URL on ISSUER's origin, its certificate). */
  requestOf: (ctx: Koa.Context) => AdminRequest;
  record: (event: AuditEventInput) => Promise<void>;
  /** Per-client request limits: counted per client_id of the token. */
  limiter?: ClientLimiter | undefined;
}

const koaPath = (path: string) => `${ADMIN_BASE_PATH}${path.replace(/\{(\w+)\}/g, ':$1')}`;
const pathPattern = (path: string) =>
  new RegExp(`^${ADMIN_BASE_PATH}${path.replace(/\{\w+\}/g, '[^/]+')}/?$`);

/** The JSON body of a request, within the size limit. */
async function readJson(ctx: Koa.Context): Promise<unknown> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > BODY_LIMIT) throw problems.tooLarge(BODY_LIMIT);
  if (!ctx.is('application/json')) throw problems.unsupportedMediaType();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw problems.tooLarge(BODY_LIMIT);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw problems.badRequest('the request body is not valid JSON');
  }
}

function validate<S extends z.ZodType>(
  schema: S | undefined,
  value: unknown,
  where: 'body' | 'query' | 'path',
): z.output<S> | undefined {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) throw problems.validation(fieldProblems(result.error.issues, where));
  return result.data;
}

/** Counts an authenticated request against its client's limit; the 429 problem when used up. */
function spendClientRequest(ctx: Koa.Context, limiter: ClientLimiter, principal: Principal) {
  const limit = principal.rateLimit ?? limiter.defaultLimit;
  const taken = limiter.take(principal.clientId, limit);
  if (taken.ok) return;
  limiter.refused({
    clientId: principal.clientId,
    limit,
    endpoint: 'admin_api',
    sourceIp: ctx.ip,
    userAgent: ctx.get('user-agent').slice(0, 256) || undefined,
  });
  throw problems.tooManyRequests(taken.retryAfterSeconds);
}

function handle(route: AnyRoute, deps: RouterDeps): Koa.Middleware {
  /** Records a refused scope (the route's, or admin scopes a request would hand out), then throws. */
  async function denied(ctx: Koa.Context, principal: Principal, err: unknown): Promise<never> {
    if (err instanceof InsufficientScope) {
      // The refusal stands even if it cannot be recorded.
      await deps
        .record({
          actor: principal.actor,
          action: 'admin_api.denied',
          outcome: 'failure',
          sourceIp: ctx.ip,
          userAgent: ctx.get('user-agent').slice(0, 256) || undefined,
          details: {
            method: ctx.method,
            route: route.path,
            scope: err.missing.join(' '),
            ...(err.granting ? { granting: err.granting } : {}),
          },
        })
        .catch((e: Error) => deps.logger.error({ err: errorFacts(e) }, 'audit write failed'));
    }
    throw err;
  }

  return async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    let principal: Principal | undefined;
    if (route.scope) {
      principal = await deps.auth.authenticate(deps.requestOf(ctx));
      if (deps.limiter) spendClientRequest(ctx, deps.limiter, principal);
      try {
        deps.auth.requireScope(principal, route.scope);
      } catch (err) {
        await denied(ctx, principal, err);
      }
    }
    const params = validate(route.params, { ...ctx.params }, 'path');
    const query = validate(route.query, { ...ctx.query }, 'query');
    if (!route.query && Object.keys(ctx.query).length > 0)
      throw problems.validation(
        Object.keys(ctx.query).map((parameter) => ({ parameter, detail: 'unknown parameter' })),
      );
    const body = route.body ? validate(route.body, await readJson(ctx), 'body') : undefined;
    const result = await route
      .handler({
        params,
        query,
        body,
        principal: principal!,
        audit: (action, target, details = {}) =>
          deps.record({
            actor: principal!.actor,
            action,
            target,
            outcome: 'success',
            sourceIp: ctx.ip,
            userAgent: ctx.get('user-agent').slice(0, 256) || undefined,
            details: {
              ...details,
              via: 'admin-api',
              ...(principal?.kind === 'person' ? { client: principal.clientId } : {}),
            },
          }),
      })
      .catch((err: unknown) => (principal ? denied(ctx, principal, err) : Promise.reject(err)));
    ctx.status = route.status ?? (route.response ? 200 : 204);
    if (route.response) {
      // Only what the schema documents leaves; a mismatch is a server bug, never sent.
      const out = route.response.safeParse(result);
      if (!out.success)
        throw new Error(`response of ${route.operationId} does not match its schema`);
      ctx.body = out.data;
    }
  };
}

/** Unknown paths under /admin/v1 get 404, known paths with another method 405: as problems. */
function fallback(routes: AnyRoute[]): Koa.Middleware {
  const patterns = routes.map((r) => ({ re: pathPattern(r.path), method: r.method }));
  return async (ctx) => {
    const allow = patterns.filter((p) => p.re.test(ctx.path)).map((p) => p.method.toUpperCase());
    if (allow.length === 0) throw problems.notFound();
    throw problems.methodNotAllowed([...new Set(allow)]);
  };
}

export function buildAdminRouter(routes: AnyRoute[], deps: RouterDeps): Router {
  const router = new Router();
  const errors = problemHandler(deps.logger);
  for (const route of routes) {
    router[route.method](koaPath(route.path), compose([errors, handle(route, deps)]));
  }
  router.all(`${ADMIN_BASE_PATH}{/*rest}`, compose([errors, fallback(routes)]));
  return router;
}
