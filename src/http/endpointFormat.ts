// Which kind of endpoint a path belongs to, and a refusal written in that endpoint's own format:
// problem JSON at the admin API, the HTML error page at pages, OAuth error JSON at the protocol
// endpoints. Also the answer for paths and methods nothing handled (404, or 405 with Allow).
import type Koa from 'koa';
import { ADMIN_BASE_PATH } from '../admin/adminApi.ts';
import { Problem, sendProblem } from '../admin/problem.ts';
import { PageError } from './pageError.ts';

const CONSENT_API = /^\/consents(\/|$)/;

export type EndpointKind = 'admin' | 'page' | 'oauth';

/**
 * Pages people's browsers open: Portcullis' own, and the protocol endpoints a browser is sent to
 * (authorization and logout), where oidc-provider too answers with a page when no redirect to the
 * client can be trusted.
 */
const PAGE_PATHS = /^\/(interaction|account|demo|auth|session\/end|static)(\/|$)/;
/** The device page of RFC 8628 (/device, /device/:uid), not its endpoint for devices (/device/auth). */
const DEVICE_PAGES = /^\/device(\/(?!auth$)[^/]+)?$/;

export function endpointKind(path: string): EndpointKind {
  if (path === ADMIN_BASE_PATH || path.startsWith(`${ADMIN_BASE_PATH}/`)) return 'admin';
  // The consent API of resource servers (src/http/consentApi.ts) answers in problem JSON too.
  if (CONSENT_API.test(path)) return 'admin';
  if (PAGE_PATHS.test(path) || DEVICE_PAGES.test(path)) return 'page';
  return 'oauth';
}

const PROBLEM_KINDS: Record<number, { kind: string; title: string }> = {
  400: { kind: 'bad_request', title: 'Bad request' },
  404: { kind: 'not_found', title: 'Not found' },
  405: { kind: 'method_not_allowed', title: 'Method not allowed' },
  413: { kind: 'too_large', title: 'Request body too large' },
};

const OAUTH_ERRORS: Record<number, string> = {
  404: 'not_found',
  405: 'method_not_allowed',
};

/**
 * Answers the request with a client error in the endpoint's format. Pages get a PageError thrown
 * (the error handler, mounted earlier, renders it as HTML or JSON as the caller accepts).
 */
export function refuse(
  ctx: Koa.Context,
  status: 400 | 404 | 405 | 413,
  description: string,
  headers: Record<string, string> = {},
): void {
  const kind = endpointKind(ctx.path);
  if (kind === 'page' && status !== 405) throw new PageError(status, { text: description });
  if (kind === 'admin') {
    const { kind: problem, title } = PROBLEM_KINDS[status]!;
    sendProblem(ctx, new Problem(status, problem, title, description, { headers }));
    return;
  }
  ctx.status = status;
  for (const [name, value] of Object.entries(headers)) ctx.set(name, value);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: OAUTH_ERRORS[status] ?? 'invalid_request', error_description: description };
}

/**
 * The methods each protocol endpoint implements (oidc-provider's routes as Portcullis configures
 * them, in src/oidc/configuration.ts); oidc-provider answers any other method with a bare 404.
 */
const PROTOCOL_METHODS: [RegExp, string[]][] = [
  [/^\/auth$/, ['GET', 'POST']],
  [/^\/auth\/[^/]+$/, ['GET']],
  [/^\/token$/, ['POST', 'OPTIONS']],
  [/^\/token\/(introspection|revocation)$/, ['POST', 'OPTIONS']],
  [/^\/me$/, ['GET', 'POST', 'OPTIONS']],
  [/^\/request$/, ['POST', 'OPTIONS']],
  [/^\/reg$/, ['POST']],
  [/^\/reg\/[^/]+$/, ['GET', 'PUT', 'DELETE']],
  [/^\/jwks$/, ['GET', 'OPTIONS']],
  [/^\/\.well-known\/(openid-configuration|oauth-authorization-server)$/, ['GET', 'OPTIONS']],
  [/^\/session\/end$/, ['GET', 'POST']],
  [/^\/session\/end\/confirm$/, ['POST']],
  [/^\/session\/end\/success$/, ['GET']],
  [/^\/device\/auth$/, ['POST', 'OPTIONS']],
  [/^\/device$/, ['GET', 'POST']],
  [/^\/device\/[^/]+$/, ['GET']],
];

/**
 * Last in line: what no router or the protocol answered (Koa's bare 404) becomes 405 with Allow
 * for a protocol endpoint called with a method it does not implement, otherwise 404, each in the
 * endpoint's format.
 */
export function unmatched(): Koa.Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status !== 404 || ctx.body != null) return;
    const allowed = PROTOCOL_METHODS.find(([pattern]) => pattern.test(ctx.path))?.[1];
    if (allowed && !allowed.includes(ctx.method)) {
      refuse(ctx, 405, `${ctx.path} allows ${allowed.join(', ')}`, { Allow: allowed.join(', ') });
      return;
    }
    // An unknown path a browser opened gets the error page; any other caller, the kind's format.
    if (!allowed && endpointKind(ctx.path) === 'oauth' && ctx.accepts('json', 'html') === 'html')
      throw new PageError(404, 'error.http.404');
    refuse(ctx, 404, 'There is nothing here.');
  };
}
