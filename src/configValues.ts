// The kinds of value environment variables hold (whole numbers, booleans, origins, key lists,
// proxy lists), each a zod schema that says exactly what it expects when a value is wrong.
import { z } from 'zod';
import { parseAddressRange, type TrustedProxies } from './http/clientAddress.ts';

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

export const bool = z
  .enum(['true', 'false', '1', '0'], 'must be true or false')
  .transform((v) => v === 'true' || v === '1');

export const httpUrl = z
  .string()
  .refine((v) => {
    const url = URL.parse(v);
    return (
      url !== null &&
      (url.protocol === 'https:' || url.protocol === 'http:') &&
      !url.search &&
      !url.hash &&
      (url.pathname === '/' || url.pathname === '')
    );
  }, 'must be an absolute http(s) origin such as https://auth.example.com (no path, query or fragment)')
  .transform((v) => v.replace(/\/+$/, ''));

/** An HTTP header name (RFC 9110 token), lower-cased as Node presents headers. */
export const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name such as X-SSL-Client-Cert')
  .transform((v) => v.toLowerCase());

export const cookieKeys = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean),
  )
  .refine((keys) => keys.length > 0, 'must list at least one key')
  .refine((keys) => keys.every((k) => k.length >= 32), 'every key must be at least 32 characters');

export const encryptionKeys = z.string().transform((value, ctx): EncryptionKey[] => {
  const entries = value
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  if (entries.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'must list at least one id:base64key entry' });
    return z.NEVER;
  }
  const seen = new Set<string>();
  const keys: EncryptionKey[] = [];
  for (const entry of entries) {
    const match = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/=_-]+)$/.exec(entry);
    const key = match ? Buffer.from(match[2]!, 'base64') : undefined;
    if (!match || !key || key.length !== 32) {
      ctx.addIssue({
        code: 'custom',
        message:
          'every entry must be id:base64key with a 32-byte key (id: letters, digits, _ or -)',
      });
      return z.NEVER;
    }
    if (seen.has(match[1]!)) {
      ctx.addIssue({ code: 'custom', message: `key id "${match[1]}" appears twice` });
      return z.NEVER;
    }
    seen.add(match[1]!);
    keys.push({ id: match[1]!, key });
  }
  return keys;
});

const MAX_PROXY_HOPS = 10;
export const trustedProxies = z.string().transform((value, ctx): TrustedProxies => {
  const fail = (message: string) => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  const expected = `must be a number of proxies (1 to ${MAX_PROXY_HOPS}) or a comma-separated list of IP addresses and CIDR ranges (e.g. 10.0.0.0/8,127.0.0.1)`;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) {
    const hops = Number(trimmed);
    if (hops < 1 || hops > MAX_PROXY_HOPS)
      return fail(
        `${expected}: "${trimmed}" is not a number of proxies from 1 to ${MAX_PROXY_HOPS}`,
      );
    return { kind: 'hops', hops };
  }
  const entries = value.split(',').map((e) => e.trim());
  for (const entry of entries) {
    const range = parseAddressRange(entry);
    if (!range) return fail(`${expected}: "${entry}" is not an IP address or CIDR range`);
    if (range.prefix === 0)
      return fail(`must not trust every address ("${entry}"): name the proxies`);
  }
  return { kind: 'addresses', entries };
});
