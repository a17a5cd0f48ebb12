// CSRF tokens for every form: an HMAC of the form's purpose and what it is bound to (the
// interaction, or the signed-in session), keyed from COOKIE_KEYS. No state is stored: a token
// is valid exactly for its binding, so it cannot be carried from one login or session to another.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export function createCsrf(cookieKeys: string[]) {
  // Every cookie key still in the ring verifies, so rotating COOKIE_KEYS keeps open forms valid.
  const keys = cookieKeys.map((k) => Buffer.from(hkdfSync('sha256', k, 'portcullis', 'csrf', 32)));
  const mac = (key: Buffer, binding: string, purpose: string) =>
    createHmac('sha256', key).update(`${purpose}\n${binding}`).digest('base64url');

  return {
    token: (binding: string, purpose: string) => mac(keys[0]!, binding, purpose),
    verify(binding: string, purpose: string, value: string | undefined): boolean {
      if (!value) return false;
      const given = Buffer.from(value);
      return keys.some((key) => {
        const expected = Buffer.from(mac(key, binding, purpose));
        return expected.length === given.length && timingSafeEqual(expected, given);
      });
    },
  };
}

export type Csrf = ReturnType<typeof createCsrf>;
