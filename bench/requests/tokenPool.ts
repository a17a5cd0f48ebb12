// A form POST naming the next token of a pool on each request (introspection), so the server
// looks up many distinct tokens rather than one it may have cached.
import { type Expectation, expectation, type Step } from './types.ts';

export interface TokenPoolOptions {
  path: string;
  headers: Record<string, string>;
  form: Record<string, string>;
  /** Form field that carries the token. */
  field: string;
  tokens: string[];
  expect: Expectation;
}

export function steps(options: TokenPoolOptions): Step[] {
  const { tokens, field } = options;
  if (tokens.length === 0) throw new Error('tokenPool needs at least one token');
  // Start at a random place so successive runs do not walk the pool in the same order.
  let next = Math.floor(Math.random() * tokens.length);
  return [
    {
      method: 'POST',
      path: options.path,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...options.headers },
      setup: () => {
        next = (next + 1) % tokens.length;
        return {
          body: new URLSearchParams({ ...options.form, [field]: tokens[next]! }).toString(),
        };
      },
      check: expectation(options.expect),
    },
  ];
}
