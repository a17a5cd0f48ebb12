// Scenario 10: the whole payment consent flow of a FAPI 2.0 third party, on Portcullis alone (bare
// oidc-provider has no consent records, no dynamic linking and no consume endpoint, so there is
// no baseline): PAR with a payment_initiation detail, sign-in, the consent page with a passkey
// assertion over the payment, code → DPoP-bound token, the bank consuming the consent.

import { PAYMENTS_API } from '../payments.ts';
import { advance, nextRequest } from '../requests/loginFlow.ts';
import type { PaymentOptions } from '../requests/payment.ts';
import { type PaymentFlowOptions, paymentFlow } from '../requests/paymentFlow.ts';
import type { RequestParts } from '../requests/types.ts';
import type { Target } from '../targets/types.ts';
import { send } from './loginOnce.ts';
import type { Scenario, ScenarioEnv } from './types.ts';

const MAX_REQUESTS = 20;

const pathOf = (url: unknown, name: string): string => {
  if (typeof url !== 'string') throw new Error(`discovery has no ${name}`);
  const { pathname } = new URL(url);
  return pathname;
};

/** The bank's payment service: a client-credentials token with the API's consent scope. */
async function bankToken(env: ScenarioEnv, target: Target, tokenPath: string): Promise<string> {
  const { clientId, secret } = env.world.payments.bank;
  const res = await fetch(`${target.issuer}${tokenPath}`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      resource: PAYMENTS_API.identifier,
      scope: PAYMENTS_API.consentScope,
    }),
  });
  const json = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !json.access_token)
    throw new Error(
      `${target.name}: the bank's token request failed: ${res.status} ${JSON.stringify(json)}`,
    );
  return json.access_token;
}

/**
 * One payment with fetch, through the same code as the load generator: proves the flow works,
 * every response checked as the load checks it, and returns the requests between PAR and the code.
 */
export async function paymentOnce(target: Target, o: PaymentFlowOptions): Promise<number> {
  const payment = paymentFlow(o);
  const stopped = (what: string, req: RequestParts, res: { status: number; body: string }) =>
    new Error(
      `${target.name}: the payment stopped at ${what} (${req.method} ${req.path.split('?')[0]}): ` +
        `${res.status} ${res.body.slice(0, 300)}`,
    );
  const { flow, request: par } = payment.start(o.payers[0]!);
  const pushed = await send(target.issuer, par);
  if (!payment.pushed(flow, pushed.status, pushed.body)) throw stopped('PAR', par, pushed);
  let hops = 0;
  while (!flow.code) {
    if (++hops > MAX_REQUESTS)
      throw new Error(`${target.name}: no code after ${MAX_REQUESTS} requests`);
    const request = nextRequest(flow);
    const res = await send(target.issuer, request);
    if (!advance(o, flow, res, payment.consentFields))
      throw stopped(`request ${hops}`, request, res);
  }
  const tokenRequest = payment.tokenRequest(flow);
  const tokens = await send(target.issuer, tokenRequest);
  if (!payment.tokens(flow, tokens.status, tokens.body))
    throw stopped('the code exchange', tokenRequest, tokens);
  const consume = payment.consumeRequest(flow);
  const consumed = await send(target.issuer, consume);
  if (!payment.consumed(flow, consumed.status, consumed.body))
    throw stopped('the consume', consume, consumed);
  return hops;
}

export const payment: Scenario = {
  number: 10,
  title:
    'payment consent: PAR with payment_initiation, sign-in, passkey assertion over the payment, token, consume',
  measures:
    'a whole one-off payment consent: PAR (private_key_jwt), the login and consent pages, one ' +
    'Argon2 verification, a WebAuthn assertion bound to the payment (dynamic linking), the code ' +
    'exchange with DPoP, and the bank consuming the consent',
  goal: { of: 'none', why: 'bare oidc-provider has no consents' },
  targets: ['portcullis'],
  async prepare(env, target) {
    const discovery = (await (
      await fetch(`${target.issuer}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    const tokenPath = pathOf(discovery.token_endpoint, 'token_endpoint');
    const { tpp, password, payers } = env.world.payments;
    if (payers.length === 0) throw new Error('scenario 10 needs payers (--payers)');
    const flowOptions: PaymentFlowOptions = {
      issuer: target.issuer,
      parPath: pathOf(
        discovery.pushed_authorization_request_endpoint,
        'pushed_authorization_request_endpoint',
      ),
      authorizationPath: pathOf(discovery.authorization_endpoint, 'authorization_endpoint'),
      tokenPath,
      clientId: tpp.clientId,
      privateJwk: tpp.privateJwk,
      redirectUri: tpp.redirectUri,
      scope: `openid ${PAYMENTS_API.scope}`,
      resource: PAYMENTS_API.identifier,
      password,
      bankToken: await bankToken(env, target, tokenPath),
      payers,
    };
    // The dry run pays with the first payer; the load takes the others in turn (all when only one).
    const hops = await paymentOnce(target, flowOptions);
    env.say(`a payment takes PAR, ${hops} requests to the code, a code exchange and a consume`);
    const options: PaymentOptions = {
      ...flowOptions,
      payers: payers.length > 1 ? payers.slice(1) : payers,
      hops,
      expect: { status: 200, bodyIncludes: '"status":"consumed"' },
    };
    return { module: 'payment', options };
  },
};
