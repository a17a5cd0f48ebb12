// Drives a login over plain HTTP, as a browser would (cookies, redirects, forms), for tests that
// need many logins quickly or exact control of each request. Browser tests use Chromium instead.
import { createHash, randomBytes } from 'node:crypto';

/** A tiny cookie jar keyed by cookie name (tests talk to one host). */
export class CookieJar {
  private cookies = new Map<string, { value: string; path: string }>();

  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const path =
        attrs
          .map((a) => a.trim())
          .find((a) => a.toLowerCase().startsWith('path='))
          ?.slice(5) ?? '/';
      const expired =
        attrs.some((a) => /^expires=thu, 01 jan 1970/i.test(a.trim())) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, { value, path });
    }
  }

  header(url: string): string {
    const path = new URL(url).pathname;
    return [...this.cookies]
      .filter(([, c]) => path.startsWith(c.path))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  has(name: string): boolean {
    return this.cookies.has(name);
  }
}

export interface Page {
  status: number;
  url: string;
  html: string;
  location: string | undefined;
}

export class HttpBrowser {
  readonly jar = new CookieJar();
  constructor(
    readonly headers: Record<string, string> = {},
    /** How requests are sent (e.g. test/support/tlsFetch.ts for a server with its own TLS). */
    private readonly send: typeof fetch = fetch,
  ) {}

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<Page> {
    const res = await this.send(url, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      redirect: 'manual',
      headers: {
        ...this.headers,
        cookie: this.jar.header(url),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: init.form ? new URLSearchParams(init.form) : undefined,
    });
    this.jar.store(res);
    const location = res.headers.get('location') ?? undefined;
    return {
      status: res.status,
      url,
      html: await res.text(),
      location: location ? new URL(location, url).href : undefined,
    };
  }

  /** Follows redirects within `origin`; stops at a page, or at a redirect leaving it. */
  async follow(start: Page, origin: string): Promise<Page> {
    let page = start;
    for (let i = 0; i < 10 && page.location && page.location.startsWith(origin); i++) {
      page = await this.request(page.location);
    }
    return page;
  }

  async open(url: string, origin = new URL(url).origin): Promise<Page> {
    return this.follow(await this.request(url), origin);
  }

  /** Submits the form whose action matches `action` on `page`, with its hidden fields. */
  async submit(
    page: Page,
    action: RegExp,
    fields: Record<string, string>,
    origin = new URL(page.url).origin,
  ): Promise<Page> {
    const form = findForm(page.html, action);
    const url = new URL(form.action, page.url).href;
    return this.follow(await this.request(url, { form: { ...form.hidden, ...fields } }), origin);
  }
}

export function findForm(
  html: string,
  action: RegExp,
): { action: string; hidden: Record<string, string> } {
  for (const match of html.matchAll(/<form\b[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)) {
    const formAction = match[1]!.replace(/&amp;/g, '&');
    if (!action.test(formAction)) continue;
    const hidden: Record<string, string> = {};
    for (const input of match[2]!.matchAll(
      /<input type="hidden" name="([^"]+)" value="([^"]*)"/g,
    )) {
      hidden[input[1]!] = input[2]!.replace(/&amp;/g, '&');
    }
    return { action: formAction, hidden };
  }
  throw new Error(`no form with action ${action} on the page:\n${html.slice(0, 2000)}`);
}

export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface AuthorizeOptions {
  issuer: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  resource?: string | string[];
  extra?: Record<string, string>;
}

export function authorizationUrl(
  o: AuthorizeOptions & { challenge: string; state: string },
): string {
  const params = new URLSearchParams({
    client_id: o.clientId,
    response_type: 'code',
    redirect_uri: o.redirectUri,
    scope: o.scope,
    code_challenge: o.challenge,
    code_challenge_method: 'S256',
    state: o.state,
    ...o.extra,
  });
  for (const r of [o.resource ?? []].flat()) params.append('resource', r);
  return `${o.issuer}/auth?${params}`;
}

/**
 * Signs in with a password and approves consent; returns the authorization code (or the
 * page it stopped at, when something else happened).
 */
export async function loginForCode(
  browser: HttpBrowser,
  o: AuthorizeOptions & { email: string; password: string; consent?: 'approve' | 'deny' },
): Promise<{ code?: string; verifier: string; redirect?: URL; page: Page }> {
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString('hex');
  let page = await browser.open(authorizationUrl({ ...o, challenge, state }), o.issuer);
  if (page.html.includes('/login"')) {
    page = await browser.submit(
      page,
      /\/login$/,
      { email: o.email, password: o.password },
      o.issuer,
    );
  }
  if (page.html.includes('/consent"')) {
    page = await browser.submit(page, /\/consent$/, { decision: o.consent ?? 'approve' }, o.issuer);
  }
  if (page.location?.startsWith(o.redirectUri)) {
    const redirect = new URL(page.location);
    return { code: redirect.searchParams.get('code') ?? undefined, verifier, redirect, page };
  }
  return { verifier, page };
}
