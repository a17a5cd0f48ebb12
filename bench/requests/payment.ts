// Scenario 10: one iteration is a whole payment consent (paymentFlow.ts): PAR, the sign-in and
// consent pages with the passkey's assertion, the code exchange, the bank consuming the consent.
// Payers are taken in turn; every response is checked.
import { advance, headerList, nextRequest } from './loginFlow.ts';
import { type PaymentFlowOptions, type PaymentState, paymentFlow } from './paymentFlow.ts';
import type { Expectation, Step, StepContext } from './types.ts';

export interface PaymentOptions extends PaymentFlowOptions {
  /** Requests from the authorization request (after PAR) up to the redirect with the code. */
  hops: number;
  /** Unused: every step checks its own response (GeneratorRef's shape). */
  expect: Expectation;
}

export function steps(o: PaymentOptions): Step[] {
  if (o.payers.length === 0) throw new Error('payment needs at least one payer');
  const payment = paymentFlow(o);
  const flowOf = (ctx: StepContext) => ctx.flow as PaymentState;
  // After a failed step the iteration still sends its remaining requests: to a path that
  // answers 404, each counted as failed.
  const failed = { method: 'GET' as const, path: '/bench-payment-failed', headers: {} };
  let position = Math.floor(Math.random() * o.payers.length);

  const par: Step = {
    method: 'POST',
    path: o.parPath,
    headers: {},
    setup: (ctx) => {
      position = (position + 1) % o.payers.length;
      const { flow, request } = payment.start(o.payers[position]!);
      ctx.flow = flow;
      return request;
    },
    check: (status, body, _headers, ctx) => payment.pushed(flowOf(ctx), status, body),
  };
  const hop: Step = {
    method: 'GET',
    path: '/',
    headers: {},
    setup: (ctx) => (flowOf(ctx).next ? nextRequest(flowOf(ctx)) : failed),
    check: (status, body, headers, ctx) =>
      advance(
        o,
        flowOf(ctx),
        {
          status,
          body,
          location: headerList(headers, 'location')[0],
          setCookies: headerList(headers, 'set-cookie'),
        },
        payment.consentFields,
      ),
  };
  const token: Step = {
    method: 'POST',
    path: o.tokenPath,
    headers: {},
    setup: (ctx) => (flowOf(ctx).code ? payment.tokenRequest(flowOf(ctx)) : failed),
    check: (status, body, _headers, ctx) => payment.tokens(flowOf(ctx), status, body),
  };
  const consume: Step = {
    method: 'POST',
    path: '/consents',
    headers: {},
    setup: (ctx) => (flowOf(ctx).consentId ? payment.consumeRequest(flowOf(ctx)) : failed),
    check: (status, body, _headers, ctx) => payment.consumed(flowOf(ctx), status, body),
  };
  return [par, ...Array.from({ length: o.hops }, () => hop), token, consume];
}
