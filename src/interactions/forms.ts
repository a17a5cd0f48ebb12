// Reads an application/x-www-form-urlencoded body (pages post forms; nothing else is accepted).
import type Koa from 'koa';

const LIMIT = 64 * 1024;

export class FormError extends Error {
  override name = 'FormError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
  readonly expose = true;
}

export async function readForm(ctx: Koa.Context): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded'))
    throw new FormError('This form was not sent as a form.', 415);
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > LIMIT) throw new FormError('This form is too large.', 413);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > LIMIT) throw new FormError('This form is too large.', 413);
    chunks.push(chunk as Buffer);
  }
  const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  const form: Record<string, string> = {};
  for (const [key, value] of params) if (!(key in form)) form[key] = value;
  return form;
}
