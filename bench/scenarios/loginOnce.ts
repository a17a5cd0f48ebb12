// One sign-in with fetch, through the same state machine as the load generator: a dry run tells
// how many requests a login takes (and that it works) before the load starts; the refresh
// scenario seeds its tokens this way on Portcullis.
import {
  advance,
  authorizationRequest,
  type FlowResponse,
  type LoginFlowOptions,
  type LoginUser,
  newFlow,
  nextRequest,
  tokenRequest,
} from '../requests/loginFlow.ts';
import type { RequestParts } from '../requests/types.ts';
import type { Target } from '../targets/types.ts';
import { JWT_API, loginClientAuthorization, type World } from '../world.ts';

const MAX_REQUESTS = 20;

/** One request with fetch, redirects not followed, as the load generator sends it. */
export async function send(base: string, req: RequestParts): Promise<FlowResponse> {
  const res = await fetch(`${base}${req.path}`, {
    method: req.method,
    headers: req.headers,
    body: req.body,
    redirect: 'manual',
  });
  return {
    status: res.status,
    body: await res.text(),
    location: res.headers.get('location') ?? undefined,
    setCookies: res.headers.getSetCookie(),
  };
}

/** The login flow options of the web-app client for the JWT API. */
export function loginFlowOptions(world: World, extra?: Record<string, string>): LoginFlowOptions {
  const { client, password } = world.people;
  return {
    clientId: client.clientId,
    clientAuthorization: loginClientAuthorization(world),
    redirectUri: client.redirectUri,
    scope: `openid ${JWT_API.scope}`,
    resource: JWT_API.identifier,
    ...(extra ? { extra } : {}),
    password,
  };
}

/** Signs `user` in; returns how many requests led to the code, and the token response. */
export async function loginOnce(
  target: Target,
  o: LoginFlowOptions,
  user: LoginUser,
): Promise<{ hops: number; tokens: Record<string, unknown> }> {
  const flow = newFlow(user);
  let request = authorizationRequest(o, flow);
  for (let hops = 1; hops <= MAX_REQUESTS; hops++) {
    const res = await send(target.issuer, request);
    if (!advance(o, flow, res)) {
      throw new Error(
        `${target.name}: the sign-in of ${user.email} stopped at request ${hops} (${request.method} ` +
          `${request.path.split('?')[0]}): ${res.status} ${res.body.slice(0, 200)}`,
      );
    }
    if (flow.code) {
      const res = await send(target.issuer, tokenRequest(o, flow));
      if (res.status !== 200)
        throw new Error(`${target.name}: code exchange failed: ${res.status} ${res.body}`);
      return { hops, tokens: JSON.parse(res.body) as Record<string, unknown> };
    }
    request = nextRequest(flow);
  }
  throw new Error(`${target.name}: no code after ${MAX_REQUESTS} requests`);
}
