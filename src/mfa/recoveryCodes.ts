// Recovery codes: ten single-use look-up secrets of 120 bits each, shown once and stored as
// SHA-256 hashes (unsalted hashing is enough at that length: NIST SP 800-63B 5.1.2.1). Using
// one is a level-2 sign-in; regenerating replaces them all.
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { MfaStore } from './store.ts';

const COUNT = 10;
/** Crockford's base32: no I, L, O or U, so codes read back without ambiguity. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function newCode(): string {
  const bytes = randomBytes(24);
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 31];
  return out.match(/.{4}/g)!.join('-');
}

/** Upper case, separators dropped, look-alike letters read as the digits they resemble. */
export function normalizeRecoveryCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

const hash = (code: string) =>
  createHash('sha256').update(normalizeRecoveryCode(code)).digest('hex');

export function createRecoveryCodes({ store, clock }: { store: MfaStore; clock: Clock }) {
  return {
    /** Replaces the person's codes with ten new ones, returned once for display. */
    async regenerate(userId: string): Promise<string[]> {
      const codes = Array.from({ length: COUNT }, newCode);
      await store.replaceRecoveryCodes(userId, codes.map(hash), new Date(clock.now()));
      return codes;
    },
    /** Uses a code: true once, false for an unknown or already used one. */
    use: (userId: string, code: string) =>
      store.useRecoveryCode(userId, hash(code), new Date(clock.now())),
    remaining: (userId: string) => store.recoveryCodesLeft(userId),
    remove: (userId: string) => store.deleteRecoveryCodes(userId),
  };
}

export type RecoveryCodes = ReturnType<typeof createRecoveryCodes>;
