// The one place where an error thrown on Portcullis' own routes becomes a response (an HTML page,
// or JSON for callers that ask for it). Shown as they are: PageError (written for the page) and
// DomainError (written for people). Koa's own 4xx errors get a fixed message for their status;
// anything else is a generic 500 and one log line, never a stack trace, a message or request data.
import Koa from 'koa';
import { DomainError } from '../errors.ts';
import { errorFacts, type Logger } from '../log.ts';
import { CLIENT_CLOSED_REQUEST, isClientAbort } from './clientClosed.ts';
import { PageError } from './pageError.ts';
import type { Views } from './views.ts';

const SERVER_ERROR = 'The server could not complete the request.';

const DOMAIN_STATUS: Record<DomainError['code'], number> = {
  invalid_input: 400,
  not_found: 404,
  conflict: 409,
  forbidden: 403,
};

/** Koa's and its body readers' client errors: their own texts are not shown. */
const HTTP_MESSAGES: Record<number, string> = {
  400: 'The request could not be read.',
  404: 'There is nothing here.',
  405: 'This method is not allowed here.',
  413: 'The request is too large.',
  415: 'This kind of request body is not accepted here.',
};

interface Answer {
  status: number;
  message: string;
  title: string;
}

export function describeWebError(err: unknown): Answer {
  const title = 'Something went wrong';
  if (err instanceof PageError)
    return { status: err.status, message: err.message, title: err.title };
  if (err instanceof DomainError)
    return { status: DOMAIN_STATUS[err.code], message: err.message, title };
  if (err instanceof Koa.HttpError && err.status >= 400 && err.status < 500)
    return {
      status: err.status,
      message: HTTP_MESSAGES[err.status] ?? 'The request could not be completed.',
      title,
    };
  return { status: 500, message: SERVER_ERROR, title };
}

export function errorHandler(logger: Logger, views: Views): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (isClientAbort(err)) {
        ctx.status = CLIENT_CLOSED_REQUEST;
        return;
      }
      const answer = describeWebError(err);
      if (answer.status >= 500)
        logger.error({ reqId: ctx.state.requestId, err: errorFacts(err) }, 'request failed');
      ctx.status = answer.status;
      if (ctx.accepts('html', 'json') === 'html') {
        ctx.type = 'html';
        ctx.body = views.render('error', { title: answer.title, message: answer.message });
      } else {
        ctx.body = {
          error: answer.status >= 500 ? 'server_error' : 'invalid_request',
          error_description: answer.message,
        };
      }
    }
  };
}
