// The error of Portcullis' web pages (src/http/ and src/interactions/): a status and a message
// written for the person reading the page. The error handler shows nothing of any other error.
export class PageError extends Error {
  override name = 'PageError';
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 413 | 415 | 429,
    /** Shown as it is: say what happened and what to do, never anything secret. */
    message: string,
    readonly title = 'Something went wrong',
  ) {
    super(message);
  }
}
