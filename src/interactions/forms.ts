// Reads an application/x-www-form-urlencoded body (pages post forms; nothing else is accepted).
import type Koa from 'koa';
import { PageError } from '../http/pageError.ts';

const LIMIT = 64 * 1024;

export async function readForm(ctx: Koa.Context): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new PageError(415, 'error.form.notForm');
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > LIMIT) throw new PageError(413, 'error.form.tooLarge');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > LIMIT) throw new PageError(413, 'error.form.tooLarge');
    chunks.push(chunk as Buffer);
  }
  const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  const form: Record<string, string> = {};
  for (const [key, value] of params) if (!(key in form)) form[key] = value;
  return form;
}
