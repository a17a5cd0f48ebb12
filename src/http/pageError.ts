// The error of Portcullis' web pages (src/http/ and src/interactions/): a status and a message
// written for the person reading the page, as a catalogue key (src/i18n/locales/en.json) and its
// parameters. The error handler shows nothing of any other error.
import { type Msg, msg, type Params, type Text } from '../i18n/translator.ts';

export class PageError extends Error {
  override name = 'PageError';
  /** Shown in the page's language: say what happened and what to do, never anything secret. */
  readonly page: Msg | Text;
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 413 | 415 | 429,
    /** A catalogue key, a Msg with parameters, or a Text outside the catalogues (shown as it is). */
    message: string | Msg | Text,
    readonly title: string | Msg = 'error.title',
    params?: Params,
  ) {
    const page = typeof message === 'string' ? msg(message, params) : message;
    super('key' in page ? page.key : page.text);
    this.page = page;
  }
}
