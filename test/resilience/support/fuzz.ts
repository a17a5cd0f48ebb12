// The seeded fuzzer: case number i of seed s is always the same request, so a failure printed as
// "seed s, case i" replays exactly (RESILIENCE_SEED=s). Each case takes an endpoint of Portcullis
// and breaks it one way: invalid UTF-8, NUL, oversized or truncated bodies, wrong content types,
// repeated and array parameters, deep JSON, CR/LF in headers, path traversal.

/** mulberry32: a small, fast, seedable PRNG (a few lines, good enough to pick test inputs). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Target {
  /** Where the path came from: discovery, interaction, admin, reg, page. */
  kind: string;
  methods: string[];
  /** Path, with {name} placeholders for the admin API's path parameters. */
  path: string;
}

export interface FuzzContext {
  targets: Target[];
  clientId: string;
  redirectUri: string;
  adminToken: string;
  /** Cookies of a live interaction, and its uid (so the pages get past "session not found"). */
  interaction: { uid: string; cookie: string };
}

/** What to send: through node:http (keep-alive) or, for what it refuses, as raw bytes. */
export type FuzzCase =
  | {
      via: 'http';
      label: string;
      method: string;
      path: string;
      headers: Record<string, string | string[]>;
      body?: string | Buffer;
    }
  | { via: 'raw'; label: string; bytes: Buffer };

const BAD_UTF8 = [
  '%FF',
  '%C3%28',
  '%E0%80%AF',
  '%ED%A0%80',
  '%F8%88%80%80%80',
  '%C0%AF',
  '%80',
  '%E2%82',
];
const NUL = ['%00', 'a%00b', '%00%00%00', 'x%00@example.com'];
const TRAVERSAL = [
  '/../../../../etc/passwd',
  '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  '/static/..%2f..%2f..%2fpackage.json',
  '/static/%2e%2e/%2e%2e/src/config.ts',
  '/..%5c..%5c..%5cwindows%5cwin.ini',
  '/static/....//....//package.json',
  '/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
];
const PARAMS = [
  'client_id',
  'redirect_uri',
  'response_type',
  'scope',
  'state',
  'nonce',
  'code',
  'code_verifier',
  'code_challenge',
  'code_challenge_method',
  'grant_type',
  'refresh_token',
  'token',
  'token_type_hint',
  'acr_values',
  'login_hint',
  'prompt',
  'resource',
  'request',
  'request_uri',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'id_token_hint',
  'post_logout_redirect_uri',
  'ui_locales',
  'claims',
  'authorization_details',
  'email',
  'password',
  'decision',
  'code_totp',
  'q',
  'limit',
  'after',
  'name',
  'redirect_uris',
  'grant_types',
  'xsrf',
  'csrf',
];
const CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'application/json',
  'text/plain',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'application/x-www-form-urlencoded; charset=ebcdic',
  'application/json; charset=utf-16',
  'application/jwt',
  'application/xml',
  '*/*',
  'application/x-www-form-urlencoded\u00ff',
];

/** The parameters each kind of endpoint reads. */
function paramsFor(path: string): string[] {
  const auth = [
    'client_id',
    'response_type',
    'redirect_uri',
    'scope',
    'state',
    'nonce',
    'code_challenge',
    'code_challenge_method',
    'resource',
    'acr_values',
    'login_hint',
    'prompt',
    'ui_locales',
    'claims',
    'authorization_details',
  ];
  if (/^\/(auth|request)\b/.test(path)) return auth;
  if (/^\/token\/(introspection|revocation)/.test(path))
    return ['token', 'token_type_hint', 'client_id', 'client_secret'];
  if (/^\/token\b/.test(path))
    return [
      'grant_type',
      'code',
      'redirect_uri',
      'code_verifier',
      'refresh_token',
      'client_id',
      'client_secret',
      'client_assertion',
      'client_assertion_type',
      'resource',
      'scope',
    ];
  if (/^\/session\/end/.test(path))
    return [
      'id_token_hint',
      'post_logout_redirect_uri',
      'state',
      'client_id',
      'ui_locales',
      'xsrf',
      'logout',
    ];
  if (/\/login$/.test(path)) return ['email', 'password', 'csrf'];
  if (/\/(totp|recovery)$/.test(path)) return ['code', 'csrf'];
  if (/\/consent$/.test(path)) return ['decision', 'csrf'];
  if (/^\/admin\//.test(path))
    return ['q', 'limit', 'after', 'since', 'until', 'action', 'actor', 'email', 'name'];
  if (/^\/(me|userinfo)\b/.test(path)) return ['access_token', 'claims'];
  return [];
}

export function makeCase(seed: number, index: number, ctx: FuzzContext): FuzzCase {
  const rand = prng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  // The OAuth endpoints get the largest share; every kind gets a steady one however many paths it has.
  const weights: [string, number][] = [
    ['discovery', 0.35],
    ['interaction', 0.2],
    ['admin', 0.25],
    ['page', 0.1],
    ['reg', 0.1],
  ];
  let share = rand();
  let kind = 'discovery';
  for (const [name, weight] of weights) {
    if (share < weight) {
      kind = name;
      break;
    }
    share -= weight;
  }
  const ofKind = ctx.targets.filter((t) => t.kind === kind);
  const target = pick(ofKind.length ? ofKind : ctx.targets);
  const method = pick(target.methods);
  const path = target.path
    .replace('{uid}', rand() < 0.8 ? ctx.interaction.uid : pick(['x', '%00', '%FF', '..%2F..']))
    .replace(/\{[^}]+\}/g, () =>
      pick(['nope', '%00', '%FF', '..%2F..%2Fusers', '-1', 'a'.repeat(300), '%C0%AF']),
    );
  const valid: Record<string, string> = {
    client_id: ctx.clientId,
    redirect_uri: ctx.redirectUri,
    post_logout_redirect_uri: 'https://app.example/signed-out',
    response_type: 'code',
    scope: 'openid ledger:read',
    resource: 'https://ledger.api.example',
    grant_type: pick(['authorization_code', 'refresh_token', 'client_credentials']),
    state: 'st4te',
    nonce: 'n0nce',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    acr_values: 'urn:portcullis:ac:password',
    login_hint: 'user1@example.com',
    email: 'user1@example.com',
    password: 'correct horse battery staple',
    decision: 'approve',
  };
  // A plausible request for this endpoint, then one of its parameters broken (mostly one the
  // endpoint reads, so the broken value gets past the first checks).
  const names = paramsFor(target.path);
  const params: [string, string][] = names
    .filter(() => rand() < 0.8)
    .map((n) => [n, valid[n] ?? pick(['x', '1', 'openid', 'https://evil.example/'])]);
  const victim = rand() < 0.8 && names.length ? pick(names) : pick(PARAMS);
  const kept = params.filter(([n]) => n !== victim);
  const encode = (pairs: [string, string][]) =>
    pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  // The broken part, spliced in already percent-encoded.
  const broken = (): string => {
    const name = encodeURIComponent(victim);
    const good = encodeURIComponent(valid[victim] ?? 'x');
    switch (Math.floor(rand() * 6)) {
      case 0:
        return `${name}=${good}${pick(BAD_UTF8)}`;
      case 1:
        return `${name}=${pick(NUL)}`;
      case 2:
        return `${name}=${good}${pick(NUL)}`;
      case 3:
        return `${name}=${good}&${name}=b`;
      case 4:
        return `${name}[]=${good}&${name}[b]=c&${name}[0][1]=d`;
      default:
        return `${pick(BAD_UTF8)}${pick(NUL)}=${pick(BAD_UTF8)}`;
    }
  };
  const headers: Record<string, string | string[]> = {};
  const roll = rand();
  if (target.kind === 'admin' && roll < 0.7) headers.authorization = `Bearer ${ctx.adminToken}`;
  else if (roll < 0.2)
    headers.authorization = pick([
      'Basic %00',
      'Basic ////',
      `Basic ${Buffer.from(`${ctx.clientId}:\u0000`).toString('base64')}`,
      'Bearer ',
      `Bearer ${'A'.repeat(5000)}`,
      'DPoP x.y.z',
      'Basic Og==',
    ]);
  if (target.kind === 'interaction' && rand() < 0.8) headers.cookie = ctx.interaction.cookie;
  else if (rand() < 0.1)
    headers.cookie = pick([
      '_interaction=%00',
      '_session=%FF%FE',
      'a=b; a=c; _interaction.sig=%00',
    ]);
  const query = [encode(kept), broken()].filter(Boolean).join('&');

  const mutation = Math.floor(rand() * 12);
  const label = (what: string) => `${method} ${target.path} [${target.kind}] ${what}`;
  const http = (what: string, p: string, body?: string | Buffer, type?: string): FuzzCase => ({
    via: 'http',
    label: label(what),
    method,
    path: p,
    headers: type ? { ...headers, 'content-type': type } : headers,
    body: method === 'GET' || method === 'HEAD' ? undefined : body,
  });
  const join = (p: string, q: string) => `${p}${p.includes('?') ? '&' : '?'}${q}`;
  switch (mutation) {
    case 0:
    case 1:
      return http('bad query', join(path, query));
    case 2:
    case 3:
      return method === 'GET'
        ? http('bad query', join(path, query))
        : http('bad form body', path, query, 'application/x-www-form-urlencoded');
    case 4: {
      // Raw invalid UTF-8 and NUL bytes in a body, not percent-encoded.
      const raw = Buffer.concat([
        Buffer.from(`${encode(kept)}&${encodeURIComponent(victim)}=`),
        Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]),
      ]);
      return http('raw bytes in body', path, raw, pick(CONTENT_TYPES));
    }
    case 5: {
      // Mostly just over the form limit (56 KiB), sometimes over the JSON one (1 MiB).
      const size = pick([60_000, 60_000, 120_000, 1_100_000]);
      const body = pick([
        () => `${encode(params)}&x=${'a'.repeat(size)}`,
        () => JSON.stringify({ a: 'a'.repeat(size) }),
      ])();
      return http(`oversized body ${size}`, path, body, pick(CONTENT_TYPES));
    }
    case 6: {
      const depth = pick([100, 1000, 10_000, 50_000]);
      const body =
        rand() < 0.5
          ? `${'['.repeat(depth)}${']'.repeat(depth)}`
          : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
      return http(`deep JSON ${depth}`, path, body, 'application/json');
    }
    case 7: {
      const body = pick([
        '{"a":',
        '{"client_id":"\\u0000"}',
        '{"email":"\\ud800"}',
        'null',
        '[]',
        '"x"',
        '{"__proto__":{"admin":true}}',
        '{"name":1e999,"a":[1,2,{"b":[]}]}',
        '{"redirect_uris":"x","grant_types":{}}',
        '\u0000',
      ]);
      return http(
        'malformed JSON',
        path,
        body,
        pick(['application/json', 'application/json', 'application/x-www-form-urlencoded']),
      );
    }
    case 8:
      return http(
        'wrong content type',
        path,
        rand() < 0.5 ? JSON.stringify(Object.fromEntries(params)) : encode(params),
        pick(CONTENT_TYPES),
      );
    case 9:
      return http('path traversal', `${pick(TRAVERSAL)}${rand() < 0.5 ? `?${query}` : ''}`);
    case 10: {
      // CR/LF in a header (response splitting attempts) and malformed request lines: raw bytes.
      const variants = [
        `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Test: a\rInjected: b\r\nConnection: close\r\n\r\n`,
        `${method} ${join(path, 'state=a%0d%0aSet-Cookie:%20injected=1')} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
        `${method} ${path} HTTP/1.1\nHost: 127.0.0.1\nX-Test: a\n Injected: folded\nConnection: close\n\n`,
        `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: _interaction=\u0000\r\nConnection: close\r\n\r\n`,
        `${method} ${path}\u0000 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
        `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
      ];
      return {
        via: 'raw',
        label: label('header injection / bad request line'),
        bytes: Buffer.from(pick(variants), 'latin1'),
      };
    }
    default: {
      // A body shorter than its Content-Length, or a raw invalid byte in the request line.
      if (rand() < 0.5) {
        const body = encode(params);
        const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${pick(['application/x-www-form-urlencoded', 'application/json'])}\r\nContent-Length: ${body.length + 40}\r\nConnection: close\r\n\r\n`;
        return {
          via: 'raw',
          label: label('truncated body'),
          bytes: Buffer.from(head + body, 'latin1'),
        };
      }
      const line = Buffer.concat([
        Buffer.from(`${method} ${path}?client_id=`),
        Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x00]),
        Buffer.from(' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'),
      ]);
      return { via: 'raw', label: label('raw invalid bytes in request line'), bytes: line };
    }
  }
}

const STACK = [
  /\n\s+at \S[^\n]*:\d+:\d+/,
  /\bat (?:async )?[\w.$<>[\]]+ \((?:file:\/\/|node:)?[^)\s]*:\d+:\d+\)/,
  /node_modules\/[\w@.\-/]+\.(?:js|ts|mjs|cjs):\d+/,
  /\/src\/[\w/.-]+\.ts:\d+/,
  // An engine error's own text: what a handler let through instead of answering for itself.
  /\b(?:TypeError|RangeError|ReferenceError|SyntaxError|AggregateError): /,
];

/** What is wrong with a response or log line: a stack trace or a known secret, or undefined. */
export function leak(text: string, secrets: string[]): string | undefined {
  for (const pattern of STACK) if (pattern.test(text)) return `stack trace (${pattern})`;
  for (const secret of secrets)
    if (secret && text.includes(secret)) return `secret ${secret.slice(0, 4)}…`;
  if (/root:x:0:0|"name":\s*"portcullis"|export function loadConfig/.test(text))
    return 'file contents (path traversal)';
  return undefined;
}
