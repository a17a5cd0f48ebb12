// Scenarios 6-7: one iteration is a whole sign-in (authorization request, login page, password,
// TOTP when asked, consent, redirects) and the code exchange, driven by loginFlow.ts. Users are
// taken in turn; a TOTP user is never given two codes of one time step, across load processes
// too (the position in the pool is kept in a state file between warm-up and rounds).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import {
  advance,
  authorizationRequest,
  type FlowState,
  headerList,
  type LoginFlowOptions,
  type LoginUser,
  newFlow,
  nextRequest,
  tokenRequest,
} from './loginFlow.ts';
import { type Expectation, expectation, type Step, type StepContext } from './types.ts';

export interface LoginOptions extends LoginFlowOptions {
  users: LoginUser[];
  /** Requests from the authorization request up to the redirect that carries the code. */
  hops: number;
  /** Keeps the position in `users` between load processes. */
  stateFile: string;
  /** The token response. */
  expect: Expectation;
}

const currentStep = () => Math.floor(Date.now() / 30_000);

function userPicker(users: LoginUser[], stateFile: string) {
  let position = existsSync(stateFile)
    ? (JSON.parse(readFileSync(stateFile, 'utf8')) as { position: number }).position
    : 0;
  const lastStep = new Map<string, number>();
  return {
    next(): LoginUser {
      for (let tries = 0; tries < users.length; tries++) {
        position = (position + 1) % users.length;
        const user = users[position]!;
        if ((lastStep.get(user.email) ?? -1) < currentStep()) return user;
      }
      return users[position]!; // every user has had a code this step: the login will fail
    },
    used(user: LoginUser, step: number) {
      lastStep.set(user.email, step);
    },
    save() {
      writeFileSync(stateFile, JSON.stringify({ position }));
    },
  };
}

export function steps(o: LoginOptions): { steps: Step[]; finish(): void } {
  if (o.users.length === 0) throw new Error('login needs at least one user');
  const picker = userPicker(o.users, o.stateFile);
  const flowOf = (ctx: StepContext) => ctx.flow as FlowState;
  const follow: Step['check'] = (status, body, headers, ctx) =>
    advance(o, flowOf(ctx), {
      status,
      body,
      location: headerList(headers, 'location')[0],
      setCookies: headerList(headers, 'set-cookie'),
    });
  // After a failed step the iteration still sends its remaining requests: to a path that
  // answers 404, each counted as failed.
  const failed = { method: 'GET' as const, path: '/bench-login-failed', headers: {} };

  const start: Step = {
    method: 'GET',
    path: '/auth',
    headers: {},
    setup: (ctx) => {
      const flow = newFlow(picker.next());
      ctx.flow = flow;
      return authorizationRequest(o, flow);
    },
    check: follow,
  };
  const hop: Step = {
    method: 'GET',
    path: '/',
    headers: {},
    setup: (ctx) => {
      const flow = flowOf(ctx);
      return flow.next ? nextRequest(flow, (step) => picker.used(flow.user, step)) : failed;
    },
    check: follow,
  };
  const exchange: Step = {
    method: 'POST',
    path: '/token',
    headers: {},
    setup: (ctx) => (flowOf(ctx).code ? tokenRequest(o, flowOf(ctx)) : failed),
    check: expectation(o.expect),
  };
  return {
    steps: [start, ...Array.from({ length: o.hops - 1 }, () => hop), exchange],
    finish: () => picker.save(),
  };
}
