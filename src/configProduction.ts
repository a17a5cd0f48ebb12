// What production refuses to start with: secrets and a database left to development defaults,
// an issuer or metrics open in clear, keys published too late, passwords hashed below OWASP's minimum.

/** Hostnames of a URL (new URL().hostname, so IPv6 in brackets) that never leave the machine. */
export const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
/** The same as a listening address (no brackets). */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1']);

/** OWASP's equivalent Argon2id settings (memory KiB, passes); anything at least one of them is fine. */
const OWASP_ARGON2_MINIMUMS = [
  [47104, 1],
  [19456, 2],
  [12288, 3],
  [9216, 4],
  [7168, 5],
] as const;
const argon2MeetsOwasp = (memory: number, time: number) =>
  OWASP_ARGON2_MINIMUMS.some(([m, t]) => memory >= m && time >= t);

/** The parsed variables these rules read (as src/config.ts's schema yields them). */
export interface ProductionFacts {
  ISSUER?: string | undefined;
  COOKIE_KEYS?: unknown;
  ENCRYPTION_KEYS?: unknown;
  DATABASE_URL?: string | undefined;
  KEYS_ACTIVATION_DELAY_SECONDS: number;
  JWKS_MAX_AGE_SECONDS: number;
  METRICS_PORT?: number | undefined;
  METRICS_TOKEN?: string | undefined;
  METRICS_HOST: string;
  ARGON2_MEMORY_KIB: number;
  ARGON2_TIME_COST: number;
}

/** Every reason production refuses these settings (none: it may start), in one message. */
export function productionProblems(env: ProductionFacts, issuer: string): string[] {
  const problems: string[] = [];
  const url = new URL(issuer);
  if (url.protocol !== 'https:' && !LOOPBACK.has(url.hostname)) {
    problems.push('ISSUER must use https (http is allowed only on loopback)');
  }
  if (!env.ISSUER) problems.push('ISSUER must be set');
  if (!env.COOKIE_KEYS) problems.push('COOKIE_KEYS must be set');
  if (!env.ENCRYPTION_KEYS) problems.push('ENCRYPTION_KEYS must be set');
  if (!env.DATABASE_URL)
    problems.push('DATABASE_URL must be set (the embedded database is for development only)');
  if (env.KEYS_ACTIVATION_DELAY_SECONDS < env.JWKS_MAX_AGE_SECONDS) {
    problems.push('KEYS_ACTIVATION_DELAY_SECONDS must not be shorter than JWKS_MAX_AGE_SECONDS');
  }
  if (
    env.METRICS_PORT !== undefined &&
    !env.METRICS_TOKEN &&
    !LOOPBACK_HOSTS.has(env.METRICS_HOST)
  ) {
    problems.push(
      'METRICS_HOST is not a loopback address: set METRICS_TOKEN too, or metrics are open to the network',
    );
  }
  if (!argon2MeetsOwasp(env.ARGON2_MEMORY_KIB, env.ARGON2_TIME_COST)) {
    problems.push(
      'ARGON2_MEMORY_KIB and ARGON2_TIME_COST are below the OWASP minimum (19456 KiB with 2 passes)',
    );
  }
  return problems;
}
