// A sign-in as a browser without JavaScript does it, as a state machine over plain responses:
// follow each redirect, fill the login, TOTP and consent forms (with their CSRF tokens), then
// exchange the code with PKCE. Shared by the load generator (login.ts) and by the bench's own
// one-off logins (dry runs, refresh-token seeding), so both speak exactly the same protocol.
import { createHash, randomBytes } from 'node:crypto';
import { generateSync } from 'otplib';
import type { RequestParts } from './types.ts';

export interface LoginFlowOptions {
  clientId: string;
  /** `Basic …` header of the client at the token endpoint. */
  clientAuthorization: string;
  redirectUri: string;
  scope: string;
  resource: string;
  /** More authorization request parameters (acr_values). */
  extra?: Record<string, string>;
  password: string;
}

export interface LoginUser {
  email: string;
  /** Base32 TOTP seed, for users asked for a code. */
  secret?: string;
}

/** One login's state: its cookies, the next request, its PKCE verifier and, at the end, the code. */
export interface FlowState {
  cookies: Record<string, string>;
  user: LoginUser;
  verifier: string;
  state: string;
  next?: { method: 'GET' | 'POST'; path: string; form?: Record<string, string>; totp?: boolean };
  code?: string;
}

export interface FlowResponse {
  status: number;
  body: string;
  location?: string | undefined;
  setCookies: string[];
}

const FORM = /<form method="post" action="(\/interaction\/[^"/]+\/(login|totp|consent))"[^>]*>/;
const CSRF = /name="_csrf" value="([^"]+)"/;

export function newFlow(user: LoginUser): FlowState {
  return {
    cookies: {},
    user,
    verifier: randomBytes(32).toString('base64url'),
    state: randomBytes(8).toString('base64url'),
  };
}

const cookieHeader = (flow: FlowState) =>
  Object.entries(flow.cookies)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');

/** GET /auth: code flow with PKCE (S256). */
export function authorizationRequest(o: LoginFlowOptions, flow: FlowState): RequestParts {
  const query = new URLSearchParams({
    client_id: o.clientId,
    response_type: 'code',
    redirect_uri: o.redirectUri,
    scope: o.scope,
    resource: o.resource,
    state: flow.state,
    code_challenge: createHash('sha256').update(flow.verifier).digest('base64url'),
    code_challenge_method: 'S256',
    // Every iteration is a whole sign-in with its consent page: without it a person's consent,
    // once given, is remembered for their next sessions and the page is skipped.
    prompt: 'consent',
    ...o.extra,
  });
  return { method: 'GET', path: `/auth?${query}`, headers: {} };
}

/**
 * The request `advance` decided on; a TOTP code is computed now, at sending time. `onTotp` sees
 * the time step used, so a caller can keep each user to one code per step.
 */
export function nextRequest(flow: FlowState, onTotp?: (step: number) => void): RequestParts {
  const next = flow.next;
  if (!next) throw new Error('the login flow has no next request');
  const headers: Record<string, string> = { cookie: cookieHeader(flow) };
  if (next.method === 'GET') return { method: 'GET', path: next.path, headers };
  const form = { ...next.form };
  if (next.totp) {
    const epoch = Math.floor(Date.now() / 1000);
    onTotp?.(Math.floor(epoch / 30));
    form.code = generateSync({ secret: flow.user.secret ?? '', epoch });
  }
  headers['content-type'] = 'application/x-www-form-urlencoded';
  return { method: 'POST', path: next.path, headers, body: new URLSearchParams(form).toString() };
}

/** POST /token with the code and the PKCE verifier. */
export function tokenRequest(o: LoginFlowOptions, flow: FlowState): RequestParts {
  return {
    method: 'POST',
    path: '/token',
    headers: {
      authorization: o.clientAuthorization,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: flow.code ?? 'missing',
      redirect_uri: o.redirectUri,
      code_verifier: flow.verifier,
      resource: o.resource,
    }).toString(),
  };
}

function storeCookies(flow: FlowState, lines: string[]): void {
  for (const line of lines) {
    const pair = line.split(';', 1)[0]!;
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (value === '' || /expires=thu, 01 jan 1970/i.test(line)) delete flow.cookies[name];
    else flow.cookies[name] = value;
  }
}

/**
 * More fields of the consent form, read from its page (a payment's WebAuthn assertion); undefined
 * when the page lacks what they need (the flow then fails).
 */
export type ConsentFields = (page: string, flow: FlowState) => Record<string, string> | undefined;

/**
 * Reads a response and decides the next request: a redirect is followed (the one to the client's
 * redirect URI yields the code); a login, TOTP or consent page is submitted. False when the
 * response is none of these, i.e. the login went wrong.
 */
export function advance(
  o: Pick<LoginFlowOptions, 'redirectUri' | 'password'>,
  flow: FlowState,
  res: FlowResponse,
  consentFields?: ConsentFields,
): boolean {
  storeCookies(flow, res.setCookies);
  flow.next = undefined;
  if (res.status === 302 || res.status === 303) {
    if (!res.location) return false;
    if (res.location.startsWith(o.redirectUri)) {
      const params = new URL(res.location).searchParams;
      if (params.get('state') !== flow.state) return false;
      flow.code = params.get('code') ?? undefined;
      return flow.code !== undefined;
    }
    const url = new URL(res.location, 'http://placeholder');
    flow.next = { method: 'GET', path: `${url.pathname}${url.search}` };
    return true;
  }
  if (res.status !== 200) return false;
  const form = FORM.exec(res.body);
  const csrf = form ? CSRF.exec(res.body.slice(form.index)) : null;
  if (!form || !csrf) return false;
  const [, path, kind] = form;
  const more = kind === 'consent' && consentFields ? consentFields(res.body, flow) : {};
  if (!more) return false;
  const fields: Record<string, string> =
    kind === 'login'
      ? { email: flow.user.email, password: o.password }
      : kind === 'consent'
        ? { decision: 'approve', ...more }
        : {};
  flow.next = {
    method: 'POST',
    path: path!,
    form: { _csrf: csrf[1]!, ...fields },
    ...(kind === 'totp' ? { totp: true } : {}),
  };
  return true;
}

/** Header values from autocannon (a string, or an array when repeated) as a list. */
export function headerList(headers: Record<string, unknown>, name: string): string[] {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    return (Array.isArray(value) ? value : [value]).map(String);
  }
  return [];
}
