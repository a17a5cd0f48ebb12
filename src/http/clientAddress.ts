// Who sent a request: the one place that reads X-Forwarded-For and -Proto, and only as far as
// TRUSTED_PROXIES vouches for them, so the sign-in limit and the audit log see the real client.
// (The host is never read from a request: src/http/issuerOrigin.ts pins it to ISSUER's.)
import { BlockList, isIP } from 'node:net';
import type Koa from 'koa';

/** An address or CIDR range of TRUSTED_PROXIES, as node:net's BlockList takes it. */
export interface AddressRange {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/**
 * Which forwarded headers to believe: none; those of a chain of `hops` proxies (the client is
 * the address that many entries from the right of X-Forwarded-For); or those passed on by peers
 * whose addresses are in `entries` (the client is the right-most address not among them).
 */
export type TrustedProxies =
  | { kind: 'none' }
  | { kind: 'hops'; hops: number }
  | { kind: 'addresses'; entries: string[] };

/** Parses `10.0.0.0/8`, `127.0.0.1`, `fd00::/8` or `::1`; undefined when it is none of those. */
export function parseAddressRange(entry: string): AddressRange | undefined {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return undefined;
  const bits = version === 4 ? 32 : 128;
  let prefix = bits;
  if (slash !== -1) {
    const digits = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(digits) || Number(digits) > bits) return undefined;
    prefix = Number(digits);
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

const FORWARDED_HEADERS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'];

export interface ClientOrigin {
  /** The client's address: the request's ctx.ip from here on. */
  address: string;
  /** Whether X-Forwarded-Proto and X-Forwarded-Host come from a trusted proxy. */
  forwarded: boolean;
}

/**
 * An address as it appears in X-Forwarded-For or as a socket's peer, in one canonical form:
 * without a port or brackets, an IPv4-mapped IPv6 address as IPv4. Undefined when it is not an
 * IP address at all (`unknown`, a host name, garbage).
 */
export function canonicalAddress(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let value = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) value = bracketed[1]!;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(value)) value = value.slice(0, value.indexOf(':'));
  const mapped = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/i.exec(value);
  if (mapped) value = mapped[1]!;
  const version = isIP(value);
  if (version === 0) return undefined;
  return version === 6 ? value.toLowerCase() : value;
}

const familyOf = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** X-Forwarded-For entries, left (furthest from us) to right (added by the nearest proxy). */
const entriesOf = (header: string | undefined) =>
  (header ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);

/**
 * Decides the client's address from the TCP peer and X-Forwarded-For.
 * - none: the peer; forwarded headers are ignored.
 * - hops N: the entry N places from the right (each proxy appends the address it saw, so with
 *   one proxy it is the right-most entry; Koa's `maxIpsCount` semantics). With fewer entries than
 *   hops, the left-most. The client's own entries, further left, are never reached.
 * - addresses: only when the peer is a trusted proxy, the right-most entry that is not one;
 *   otherwise the peer, and its forwarded headers are ignored.
 * An entry that is not an IP address stops the walk at the last address known to be good.
 */
export function createClientAddress(
  trusted: TrustedProxies,
  /** Headers only a trusted proxy may set (the client certificate it verified): removed like X-Forwarded-*. */
  proxyOnlyHeaders: string[] = [],
) {
  const untrustedHeaders = [...FORWARDED_HEADERS, ...proxyOnlyHeaders.map((h) => h.toLowerCase())];
  const list = new BlockList();
  if (trusted.kind === 'addresses') {
    for (const entry of trusted.entries) {
      const range = parseAddressRange(entry);
      if (!range) throw new Error(`not an address or CIDR range: ${entry}`);
      if (range.prefix === (range.family === 'ipv4' ? 32 : 128))
        list.addAddress(range.address, range.family);
      else list.addSubnet(range.address, range.prefix, range.family);
    }
  }
  const isTrusted = (address: string) => list.check(address, familyOf(address));

  function resolve(peer: string | undefined, forwardedFor: string | undefined): ClientOrigin {
    const socket = canonicalAddress(peer) ?? peer ?? '';
    if (trusted.kind === 'none') return { address: socket, forwarded: false };

    const entries = entriesOf(forwardedFor);
    if (trusted.kind === 'hops') {
      if (entries.length === 0) return { address: socket, forwarded: true };
      const chosen = entries[Math.max(0, entries.length - trusted.hops)];
      return { address: canonicalAddress(chosen) ?? socket, forwarded: true };
    }

    if (!socket || !isIP(socket) || !isTrusted(socket))
      return { address: socket, forwarded: false };
    let last = socket;
    for (let i = entries.length - 1; i >= 0; i--) {
      const address = canonicalAddress(entries[i]);
      if (!address) break;
      if (!isTrusted(address)) return { address, forwarded: true };
      last = address;
    }
    return { address: last, forwarded: true };
  }

  return {
    resolve,
    /** Koa reads X-Forwarded-Proto/-Host only when this is true (and this module's middleware ran). */
    proxy: trusted.kind !== 'none',
    /**
     * First middleware of the app: sets ctx.ip for everything after it (sign-in limits, audit
     * events, oidc-provider), and removes forwarded (and proxy-only) headers that no trusted
     * proxy vouches for.
     */
    middleware: (async (ctx, next) => {
      const origin = resolve(ctx.req.socket.remoteAddress, ctx.get('x-forwarded-for') || undefined);
      ctx.request.ip = origin.address;
      if (!origin.forwarded) for (const name of untrustedHeaders) delete ctx.req.headers[name];
      await next();
    }) as Koa.Middleware,
  };
}

export type ClientAddress = ReturnType<typeof createClientAddress>;
