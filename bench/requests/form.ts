// The same form POST on every request (client credentials with a client secret).
import { type Expectation, expectation, type Step } from './types.ts';

export interface FormOptions {
  path: string;
  headers: Record<string, string>;
  form: Record<string, string>;
  expect: Expectation;
}

export function steps(options: FormOptions): Step[] {
  return [
    {
      method: 'POST',
      path: options.path,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...options.headers },
      body: new URLSearchParams(options.form).toString(),
      check: expectation(options.expect),
    },
  ];
}
