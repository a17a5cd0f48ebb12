// OAuth flows across the two instances: a browser whose every request goes to the next instance
// in turn (one issuer, two processes, as a round-robin load balancer would spread them), and the
// token requests a client makes, each sent to the instance the test names. Plain HTTP rather than
// openid-client, which sends every request to the discovery document's single origin.
import { randomBytes } from 'node:crypto';
import { HttpBrowser, loginForCode, type Page } from '../../support/browserless.ts';
import { type Cluster, type Instance, PASSWORD, REDIRECT_URI, RES_API } from './cluster.ts';
import { basic, form, type Outcome, send } from './http.ts';

export class AlternatingBrowser extends HttpBrowser {
  private next = 0;
  /** Which instance served each request, in order. */
  readonly served: string[] = [];
  constructor(
    private readonly issuer: string,
    private readonly instances: Instance[],
  ) {
    super();
  }

  override async request(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<Page> {
    if (!url.startsWith(this.issuer)) return super.request(url, init);
    const instance = this.instances[this.next++ % this.instances.length]!;
    this.served.push(instance.name);
    const page = await super.request(instance.origin + url.slice(this.issuer.length), init);
    // Pages and redirects name the issuer; a relative redirect resolved against the instance is
    // mapped back so the flow keeps alternating.
    const unmap = (u: string | undefined) =>
      u && this.instances.some((i) => u.startsWith(i.origin))
        ? this.issuer + u.slice(this.instances.find((i) => u.startsWith(i.origin))!.origin.length)
        : u;
    return { ...page, url, location: unmap(page.location) };
  }
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
}

/** A password sign-in alternating between the instances; returns the code and its verifier. */
export async function signIn(
  cluster: Cluster,
  email: string,
): Promise<{ code: string; verifier: string; served: string[] }> {
  const browser = new AlternatingBrowser(cluster.issuer, cluster.instances);
  const result = await loginForCode(browser, {
    issuer: cluster.issuer,
    clientId: cluster.web.id,
    redirectUri: REDIRECT_URI,
    scope: 'openid offline_access ledger:read',
    resource: RES_API,
    extra: { prompt: 'consent', nonce: randomBytes(8).toString('hex') },
    email,
    password: PASSWORD,
  });
  if (!result.code)
    throw new Error(
      `sign-in did not reach the redirect: ${result.page.status} ${result.page.html.slice(0, 500)}`,
    );
  return { code: result.code, verifier: result.verifier, served: browser.served };
}

const webAuth = (cluster: Cluster) => ({
  authorization: basic(cluster.web.id, cluster.web.secret),
  'content-type': 'application/x-www-form-urlencoded',
});

export const redeemCode = (cluster: Cluster, at: Instance, code: string, verifier: string) =>
  send(at.origin, {
    method: 'POST',
    path: '/token',
    headers: webAuth(cluster),
    body: form({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
      resource: RES_API,
    }),
  });

export const refresh = (cluster: Cluster, at: Instance, refreshToken: string) =>
  send(at.origin, {
    method: 'POST',
    path: '/token',
    headers: webAuth(cluster),
    body: form({ grant_type: 'refresh_token', refresh_token: refreshToken, resource: RES_API }),
  });

/** Introspection by the client the token was issued to (it may learn about its own tokens). */
export const introspect = (at: Instance, client: { id: string; secret: string }, token: string) =>
  send(at.origin, {
    method: 'POST',
    path: '/token/introspection',
    headers: {
      authorization: basic(client.id, client.secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: form({ token }),
  });

export const clientCredentials = (
  at: Instance,
  client: { id: string; secret: string },
  resource = RES_API,
) =>
  send(at.origin, {
    method: 'POST',
    path: '/token',
    headers: {
      authorization: basic(client.id, client.secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: form({
      grant_type: 'client_credentials',
      resource,
      ...(resource === RES_API ? { scope: 'ledger:read' } : {}),
    }),
  });

export function json<T = Record<string, unknown>>(outcome: Outcome): T | undefined {
  try {
    return JSON.parse(outcome.body) as T;
  } catch {
    return undefined;
  }
}

export const isActive = (outcome: Outcome) =>
  outcome.status === 200 && json(outcome)?.active === true;
