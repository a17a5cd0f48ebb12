// Last-resort error handling for Portcullis' own routes: an unexpected error becomes a generic
// 500 (HTML for pages, JSON otherwise) and one log line without stack trace or request data.
import type Koa from 'koa';
import { DomainError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { CLIENT_CLOSED_REQUEST, isClientAbort } from './clientClosed.ts';
import type { Views } from './views.ts';

export function errorHandler(logger: Logger, views: Views): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (isClientAbort(err)) {
        ctx.status = CLIENT_CLOSED_REQUEST;
        return;
      }
      const e = (
        err instanceof DomainError
          ? { ...domainStatus(err), message: err.message, name: err.name }
          : err
      ) as {
        status?: number;
        expose?: boolean;
        message?: string;
        name?: string;
      };
      const status =
        typeof e.status === 'number' && e.status >= 400 && e.status < 600 ? e.status : 500;
      const message =
        status < 500 && e.expose
          ? (e.message ?? 'Bad request')
          : 'The server could not complete the request.';
      if (status >= 500)
        logger.error(
          { reqId: ctx.state.requestId, err: { name: e.name, message: e.message } },
          'request failed',
        );
      ctx.status = status;
      if (ctx.accepts('html', 'json') === 'html') {
        ctx.type = 'html';
        ctx.body = views.render('error', { title: 'Something went wrong', message });
      } else {
        ctx.body = {
          error: status >= 500 ? 'server_error' : 'invalid_request',
          error_description: message,
        };
      }
    }
  };
}

const STATUS: Record<DomainError['code'], number> = {
  invalid_input: 400,
  not_found: 404,
  conflict: 409,
  forbidden: 403,
};

/** Domain errors carry messages written for people: shown as they are, with a fitting status. */
function domainStatus(err: DomainError) {
  return { status: STATUS[err.code], expose: true };
}
