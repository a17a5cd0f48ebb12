// What a request generator gives the load process: the steps one iteration sends, in order. A
// generator runs inside the load process only, so its options must be plain JSON.

/** Per-connection scratch space, reset at the start of each iteration (cookies, codes...). */
export type StepContext = Record<string, unknown>;

export interface RequestParts {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface Step extends RequestParts {
  /** Per-request values (a fresh client assertion, the next token of a pool). */
  setup?: (ctx: StepContext) => Partial<RequestParts>;
  /** True when the response is the expected one; it may store values in ctx for the next steps. */
  check: (
    status: number,
    body: string,
    headers: Record<string, unknown>,
    ctx: StepContext,
  ) => boolean;
}

/** What a good response looks like; anything else counts as a failed request. */
export interface Expectation {
  status: number;
  /** A substring the body must contain, e.g. '"active":true'. */
  bodyIncludes?: string;
}

export function expectation({ status, bodyIncludes }: Expectation): Step['check'] {
  return (actual, body) =>
    actual === status && (bodyIncludes === undefined || body.includes(bodyIncludes));
}

/** A generator: `module` names a file in bench/requests/ whose `steps` export builds the steps. */
export interface GeneratorRef {
  module:
    | 'form'
    | 'clientAssertion'
    | 'fapiToken'
    | 'tokenPool'
    | 'login'
    | 'refreshChain'
    | 'payment';
  options: { expect: Expectation };
}

/**
 * Builds the steps; a stateful generator also returns `finish`, called when its run ends, to keep
 * state for the next load process (a token queue, a position in a user pool).
 */
export type StepsFactory<O> = (options: O) => Step[] | { steps: Step[]; finish(): void };
