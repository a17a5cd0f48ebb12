// Argon2id password hashing on the libuv thread pool (never on the event loop), with an optional
// pepper, at most as many hashes at once as there are cores, and upgrade of weaker hashes.
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1. */
export const OWASP_ARGON2: Argon2Params = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

/** Bounds concurrent work: Argon2 beyond the core count only adds memory and queueing. */
function createLimiter(max: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async function run<T>(fn: () => Promise<T>): Promise<T> {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

export interface PasswordHasherOptions {
  params: Argon2Params;
  pepper?: string | undefined;
  concurrency?: number;
}

export function createPasswordHasher(options: PasswordHasherOptions) {
  const { params } = options;
  const secret = options.pepper ? Buffer.from(options.pepper) : undefined;
  const limit = createLimiter(options.concurrency ?? Math.max(1, availableParallelism()));
  const hashOptions = { type: argon2.argon2id as 2, ...params, ...(secret ? { secret } : {}) };
  let dummy: Promise<string> | undefined;

  const hash = (password: string) => limit(() => argon2.hash(password, hashOptions));

  return {
    hash,

    /** True when `password` matches `hash`; a malformed hash never matches. */
    async verify(hashValue: string, password: string): Promise<boolean> {
      return limit(async () => {
        try {
          return await argon2.verify(hashValue, password, secret ? { secret } : undefined);
        } catch {
          return false;
        }
      });
    },

    /**
     * Spends one verification against a hash made with the current parameters, so a sign-in
     * for an unknown, locked or disabled account takes as long as one with a wrong password.
     */
    async verifyDummy(password: string): Promise<void> {
      dummy ??= hash('portcullis-timing-equaliser');
      await this.verify(await dummy, password);
    },

    /** True when `hashValue` was made with weaker (or different) parameters than configured. */
    needsRehash(hashValue: string): boolean {
      try {
        return argon2.needsRehash(hashValue, params);
      } catch {
        return true;
      }
    },
  };
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;
