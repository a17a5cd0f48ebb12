// The one place where an error thrown on Portcullis' own routes becomes a response (an HTML page,
// or JSON for callers that ask for it). Shown as they are: PageError (written for the page) and
// DomainError (written for people). Koa's own 4xx errors get a fixed message for their status;
// anything else is a generic 500 and one log line, never a stack trace, a message or request data.
// The database or the audit log out of reach is a 503 with Retry-After (sendUnavailable).
import Koa from 'koa';
import { asUnavailable, RETRY_AFTER_SECONDS, type Unavailable } from '../db/unavailable.ts';
import { DomainError } from '../errors.ts';
import { type Msg, msg, type Text } from '../i18n/translator.ts';
import { errorFacts, type Logger } from '../log.ts';
import { abortedByClient, CLIENT_CLOSED_REQUEST } from './clientClosed.ts';
import { PageError } from './pageError.ts';
import type { Views } from './views.ts';

const SERVER_ERROR = 'error.server';
const UNAVAILABLE = 'error.unavailable';

const DOMAIN_STATUS: Record<DomainError['code'], number> = {
  invalid_input: 400,
  not_found: 404,
  conflict: 409,
  forbidden: 403,
};

/** Koa's and its body readers' client errors: their own texts are not shown (catalogue keys). */
const HTTP_MESSAGES: Record<number, string> = {
  400: 'error.http.400',
  404: 'error.http.404',
  405: 'error.http.405',
  413: 'error.http.413',
  415: 'error.http.415',
};

interface Answer {
  status: number;
  /** A catalogue message, or (a DomainError's) text written by the domain, shown as it is. */
  message: Msg | Text;
  title: Msg;
}

export function describeWebError(err: unknown): Answer {
  const title = msg('error.title');
  if (err instanceof PageError)
    return {
      status: err.status,
      message: err.page,
      title: typeof err.title === 'string' ? msg(err.title) : err.title,
    };
  if (err instanceof DomainError)
    return { status: DOMAIN_STATUS[err.code], message: err.page ?? { text: err.message }, title };
  if (err instanceof Koa.HttpError && err.status >= 400 && err.status < 500)
    return {
      status: err.status,
      message: msg(HTTP_MESSAGES[err.status] ?? 'error.http.other'),
      title,
    };
  if (asUnavailable(err))
    return { status: 503, message: msg(UNAVAILABLE), title: msg('error.unavailableTitle') };
  return { status: 500, message: msg(SERVER_ERROR), title };
}

/** The one log line of a request answered 503: what was out of reach and the driver's words. */
export function logUnavailable(logger: Logger, ctx: Koa.Context, cause: Unavailable): void {
  logger.warn(
    { reqId: ctx.state.requestId, what: cause.what, reason: cause.reason },
    'service unavailable',
  );
}

/**
 * Answers 503 with Retry-After, replacing whatever response was being prepared (a token, a
 * redirect): an HTML page for browsers, else OAuth error JSON (`temporarily_unavailable`).
 * `prefer` settles `Accept: *\/*`: pages prefer HTML, protocol endpoints JSON (as oidc-provider).
 */
export function sendUnavailable(
  ctx: Koa.Context,
  views: Views,
  prefer: 'html' | 'json' = 'html',
): void {
  ctx.status = 503;
  ctx.remove('Location');
  ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
  ctx.set('Cache-Control', 'no-store');
  const types = prefer === 'html' ? (['html', 'json'] as const) : (['json', 'html'] as const);
  if (ctx.accepts(...types) === 'html') {
    ctx.type = 'html';
    ctx.body = views.page(ctx, 'error', {
      title: msg('error.unavailableTitle'),
      message: msg(UNAVAILABLE),
    });
  } else {
    ctx.type = 'json';
    ctx.body = {
      error: 'temporarily_unavailable',
      error_description: views.translatorFor(ctx).t(UNAVAILABLE),
    };
  }
}

export function errorHandler(logger: Logger, views: Views): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (abortedByClient(err, ctx.req)) {
        ctx.status = CLIENT_CLOSED_REQUEST;
        return;
      }
      const unavailable = asUnavailable(err);
      if (unavailable) {
        logUnavailable(logger, ctx, unavailable);
        return sendUnavailable(ctx, views);
      }
      const answer = describeWebError(err);
      if (answer.status >= 500)
        logger.error({ reqId: ctx.state.requestId, err: errorFacts(err) }, 'request failed');
      ctx.status = answer.status;
      if (ctx.accepts('html', 'json') === 'html') {
        ctx.type = 'html';
        ctx.body = views.page(ctx, 'error', { title: answer.title, message: answer.message });
      } else {
        const { message } = answer;
        ctx.body = {
          error: answer.status >= 500 ? 'server_error' : 'invalid_request',
          error_description: 'text' in message ? message.text : views.translatorFor(ctx).t(message),
        };
      }
    }
  };
}
