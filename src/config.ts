// Environment variables -> one typed, validated Config. Every variable, its default and its
// meaning is listed here (the protocol features' in src/configFeatures.ts) and in .env.example;
// production refuses settings that are unsafe (src/configProduction.ts).
import { z } from 'zod';
import { type FeatureSettings, featureEnvSchema, featureSettings } from './configFeatures.ts';
import { productionProblems } from './configProduction.ts';
import { type TlsSettings, tlsSettings } from './configTls.ts';
import {
  bool,
  cookieKeys,
  type EncryptionKey,
  encryptionKeys,
  headerName,
  httpUrl,
  int,
  trustedProxies,
} from './configValues.ts';
import { loadOrCreateDevSecrets } from './devSecrets.ts';
import type { TrustedProxies } from './http/clientAddress.ts';
import { availableLocales } from './i18n/catalogues.ts';
import { type RingAlg, ringAlgs, signingAlgsSetting } from './keys/algorithms.ts';
import { DEFAULT_CLIENT_RATE_LIMIT, parseRateLimit, type RateLimit } from './limits/rateLimit.ts';
import { loadTheme, type Theme, ThemeError } from './theme/theme.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type SigningAlg = 'ES256' | 'PS256' | 'Ed25519';

export type { TlsSettings } from './configTls.ts';
export type { EncryptionKey } from './configValues.ts';
export { httpUrl };

/** Every setting; the protocol features' part is declared beside its variables (src/configFeatures.ts). */
export interface Config extends FeatureSettings {
  env: 'development' | 'test' | 'production';
  issuer: string;
  port: number;
  host: string;
  trustedProxies: TrustedProxies;
  /**
   * Mutual TLS (RFC 8705): Portcullis serving HTTPS itself (cert and key files, client
   * certificates requested), or the header in which a trusted proxy forwards the certificate it
   * verified; the CA certificates that `tls_client_auth` trusts; the origin of the
   * mtls_endpoint_aliases. See src/http/clientCertificate.ts and src/oidc/mtls.ts.
   */
  tls: TlsSettings;
  /**
   * /metrics: with a token it needs `Authorization: Bearer <token>`; with a port it is served
   * there (on `host`) only. With neither it is not served.
   */
  metrics: { token: string | undefined; port: number | undefined; host: string };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  database: { url: string | undefined; poolMax: number; dataDir: string };
  dataDir: string;
  cookieKeys: string[];
  encryptionKeys: EncryptionKey[];
  keys: {
    alg: SigningAlg;
    /** Every algorithm the ring keeps an active key for: `alg` first, RS256 always. */
    algs: RingAlg[];
    refreshSeconds: number;
    activationDelaySeconds: number;
    jwksMaxAgeSeconds: number;
  };
  clockToleranceSeconds: number;
  sweep: { intervalSeconds: number; batchSize: number };
  /** How long clients and API definitions are cached per instance. */
  cacheSeconds: number;
  passwords: {
    pepper: string | undefined;
    argon2: { memoryCost: number; timeCost: number; parallelism: number };
  };
  signIn: {
    lockout: { threshold: number; baseSeconds: number; maxSeconds: number };
    ipFailureLimit: number;
    /** Password attempts from one address still being checked, at once. */
    ipPendingLimit: number;
    ipWindowSeconds: number;
  };
  /**
   * Requests per client to the token, introspection, revocation, PAR and admin endpoints: the
   * default (a client may have its own), and how often each instance syncs its counts.
   */
  clientRateLimit: { default: RateLimit; syncMs: number };
  sessions: { absoluteSeconds: number; idleSeconds: number };
  mfa: {
    /** Everyone must sign in with a second factor (level 2 at least). */
    required: boolean;
    /** acr values of levels 1, 2 and 3. */
    acr: { 1: string; 2: string; 3: string };
    rpName: string;
    /** How recent (and at level 2 when the person has a second factor) a sign-in must be to change factors. */
    changeMaxAgeSeconds: number;
  };
  admin: {
    /** Lifetime of access tokens for the admin API (short: they cannot be revoked). */
    tokenTtlSeconds: number;
  };
  /** How long a granted one-off payment consent may wait to be executed (consumed). */
  consents: { paymentTtlSeconds: number };
  /**
   * AUDIT_COVERAGE_DIR (default unset; for the test suite only): each committed audit event's
   * action is appended to a file in this directory (test/run.js checks every kind was written).
   */
  auditCoverageDir: string | undefined;
  /** The pages' product name, colours, logo and favicon (THEME_DIR, else the default; src/theme/). */
  theme: Theme;
  /** The language of pages when neither ui_locales nor Accept-Language names one there is (src/i18n/). */
  defaultLocale: string;
  /** Messages about settings that were filled in for development (printed once at start). */
  warnings: string[];
}

type Env = Record<string, string | undefined>;

/** Each variable: its schema and its default (a string, as it would be written in the environment). */
const schema = z.object({
  NODE_ENV: z
    .enum(['development', 'test', 'production'], 'must be development, test or production')
    .default('development'),
  // Default http://localhost:PORT. Must equal the issuer the database serves (src/issuer/).
  ISSUER: httpUrl.optional(),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  TRUSTED_PROXIES: trustedProxies.optional(),
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  TLS_CLIENT_CA_FILE: z.string().min(1).optional(),
  MTLS_CERTIFICATE_HEADER: headerName.optional(),
  MTLS_ORIGIN: httpUrl.optional(),
  METRICS_TOKEN: z.string().min(32, 'must be at least 32 characters (a random secret)').optional(),
  METRICS_PORT: int(1, 65535).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z
    .enum(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      'must be fatal, error, warn, info, debug, trace or silent',
    )
    .default('info'),
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_POOL_MAX: int(1, 1000).default(10),
  DATA_DIR: z.string().min(1).default('./.data'),
  COOKIE_KEYS: cookieKeys.optional(),
  ENCRYPTION_KEYS: encryptionKeys.optional(),
  SIGNING_ALG: z
    .enum(['ES256', 'PS256', 'Ed25519'], 'must be ES256, PS256 or Ed25519')
    .default('ES256'),
  SIGNING_ALGS: signingAlgsSetting.optional(),
  KEYS_REFRESH_SECONDS: int(1, 3600).default(60),
  KEYS_ACTIVATION_DELAY_SECONDS: int(0).default(2 * 24 * 3600),
  // Caps Cache-Control max-age of discovery and JWKS (src/http/publicationCache.ts).
  JWKS_MAX_AGE_SECONDS: int(0, 7 * 24 * 3600).default(3600),
  CLOCK_TOLERANCE_SECONDS: int(0, 60).default(15),
  SWEEP_INTERVAL_SECONDS: int(0).default(300),
  SWEEP_BATCH_SIZE: int(1, 100000).default(1000),
  CACHE_SECONDS: int(0, 3600).default(5),
  PASSWORD_PEPPER: z
    .string()
    .min(16, 'must be at least 16 characters (a random secret)')
    .optional(),
  ARGON2_MEMORY_KIB: int(1024, 4 * 1024 * 1024).default(19456),
  ARGON2_TIME_COST: int(1, 100).default(2),
  ARGON2_PARALLELISM: int(1, 16).default(1),
  LOCKOUT_THRESHOLD: int(1, 100).default(5),
  LOCKOUT_BASE_SECONDS: int(1, 86400).default(60),
  LOCKOUT_MAX_SECONDS: int(1, 7 * 86400).default(3600),
  IP_FAILURE_LIMIT: int(1).default(100),
  IP_FAILURE_WINDOW_SECONDS: int(1, 86400).default(900),
  // Password attempts from one address being checked at once, counted apart from its failures.
  IP_PENDING_LIMIT: int(1).default(200),
  // N/SECONDS per client at the token, introspection, revocation, PAR and admin endpoints.
  CLIENT_RATE_LIMIT: z
    .string()
    .default(DEFAULT_CLIENT_RATE_LIMIT)
    .transform((value, ctx): RateLimit => {
      const limit = parseRateLimit(value);
      if (typeof limit === 'string') {
        ctx.addIssue({ code: 'custom', message: limit });
        return z.NEVER;
      }
      return limit;
    }),
  // How often each instance adds its client request counts to the shared table and reads them.
  CLIENT_RATE_LIMIT_SYNC_MS: int(50, 60_000).default(1000),
  SESSION_ABSOLUTE_SECONDS: int(60, 30 * 86400).default(12 * 3600),
  SESSION_IDLE_SECONDS: int(60, 30 * 86400).default(30 * 60),
  REQUIRE_MFA: bool.default(false),
  ACR_VALUES: z
    .string()
    .default(
      'urn:portcullis:ac:password,urn:portcullis:ac:mfa,urn:portcullis:ac:phishing-resistant',
    )
    .transform((v) => v.split(',').map((x) => x.trim()))
    .refine(
      (v) => v.length === 3 && v.every(Boolean) && new Set(v).size === 3,
      'must list three distinct values: levels 1, 2 and 3',
    ),
  WEBAUTHN_RP_NAME: z.string().min(1).max(64).default('Portcullis'),
  FACTOR_CHANGE_MAX_AGE_SECONDS: int(30, 3600).default(300),
  ADMIN_TOKEN_TTL_SECONDS: int(60, 3600).default(300),
  PAYMENT_CONSENT_TTL_SECONDS: int(60, 86400).default(600),
  // Logout delivery, registration, device flow, FAPI_PROFILE, mail, CIBA (src/configFeatures.ts).
  ...featureEnvSchema.shape,
  // A folder with theme.json, logo.svg|png, favicon.ico|png|svg (src/theme/theme.ts).
  THEME_DIR: z.string().min(1).optional(),
  // One of the catalogues in src/i18n/locales (a file name without .json).
  DEFAULT_LOCALE: z
    .string()
    .default('en')
    .refine((v) => availableLocales().includes(v), {
      message: `must be a language there is a catalogue for: ${availableLocales().join(', ')}`,
    }),
  // Testing only: test/run.js sets it to learn which audit event kinds the suite wrote.
  AUDIT_COVERAGE_DIR: z.string().min(1).optional(),
});

/** THEME_DIR's theme, checked now: a bad theme.json stops the start with one line. */
function themeSetting(dir: string | undefined): Theme {
  try {
    return loadTheme(dir);
  } catch (err) {
    if (err instanceof ThemeError)
      throw new ConfigError(`Invalid configuration: THEME_DIR ${err.message}`);
    throw err;
  }
}

function emptyToUndefined(env: Env): Env {
  const out: Env = {};
  for (const [k, v] of Object.entries(env)) out[k] = v === '' ? undefined : v;
  return out;
}

/** Parses the environment; throws ConfigError with one line naming the variable and the problem. */
export function loadConfig(rawEnv: Env = process.env): Config {
  const cleaned = emptyToUndefined(rawEnv);
  // TRUST_PROXY=true believed the left-most (client-chosen) X-Forwarded-For entry: refuse it
  // rather than silently trust nothing, so a deployment behind a proxy notices.
  if (cleaned.TRUST_PROXY !== undefined) {
    throw new ConfigError(
      'Invalid configuration: TRUST_PROXY is no longer supported: set TRUSTED_PROXIES to the number of proxies in front of Portcullis (e.g. 1) or to their addresses (e.g. 10.0.0.0/8,127.0.0.1)',
    );
  }
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`Invalid configuration: ${name} ${issue.message}`);
  }
  const env = parsed.data;
  if (env.METRICS_PORT !== undefined && env.METRICS_PORT === env.PORT) {
    throw new ConfigError('Invalid configuration: METRICS_PORT must differ from PORT');
  }
  // SIGNING_ALGS' first entry is the default; SIGNING_ALG, when set too, must agree with it.
  const defaultAlg = (env.SIGNING_ALGS?.[0] ?? env.SIGNING_ALG) as SigningAlg;
  if (env.SIGNING_ALGS && cleaned.SIGNING_ALG !== undefined && env.SIGNING_ALG !== defaultAlg) {
    throw new ConfigError(
      'Invalid configuration: SIGNING_ALG must be the first entry of SIGNING_ALGS (or be left unset)',
    );
  }
  const production = env.NODE_ENV === 'production';
  const issuer = env.ISSUER ?? `http://localhost:${env.PORT}`;
  const warnings: string[] = [];
  const tls = tlsSettings(env, issuer, (message) => {
    throw new ConfigError(`Invalid configuration: ${message}`);
  });

  if (production) {
    const problems = productionProblems(env, issuer);
    if (problems.length > 0) {
      throw new ConfigError(`Refusing to start in production: ${problems.join('; ')}`);
    }
  }

  let cookieKeysValue = env.COOKIE_KEYS;
  let encryptionKeysValue = env.ENCRYPTION_KEYS;
  if (!cookieKeysValue || !encryptionKeysValue) {
    const dev = loadOrCreateDevSecrets(env.DATA_DIR);
    if (!cookieKeysValue) {
      cookieKeysValue = dev.cookieKeys;
      warnings.push(`COOKIE_KEYS is not set: using development keys kept in ${dev.file}`);
    }
    if (!encryptionKeysValue) {
      encryptionKeysValue = dev.encryptionKeys;
      warnings.push(`ENCRYPTION_KEYS is not set: using development keys kept in ${dev.file}`);
    }
  }

  return {
    env: env.NODE_ENV,
    issuer,
    port: env.PORT,
    host: env.HOST,
    trustedProxies: env.TRUSTED_PROXIES ?? { kind: 'none' },
    tls,
    metrics: { token: env.METRICS_TOKEN, port: env.METRICS_PORT, host: env.METRICS_HOST },
    logLevel: env.LOG_LEVEL,
    database: { url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX, dataDir: env.DATA_DIR },
    dataDir: env.DATA_DIR,
    cookieKeys: cookieKeysValue,
    encryptionKeys: encryptionKeysValue,
    keys: {
      alg: defaultAlg,
      algs: ringAlgs(defaultAlg, env.SIGNING_ALGS),
      refreshSeconds: env.KEYS_REFRESH_SECONDS,
      activationDelaySeconds: env.KEYS_ACTIVATION_DELAY_SECONDS,
      jwksMaxAgeSeconds: env.JWKS_MAX_AGE_SECONDS,
    },
    clockToleranceSeconds: env.CLOCK_TOLERANCE_SECONDS,
    sweep: { intervalSeconds: env.SWEEP_INTERVAL_SECONDS, batchSize: env.SWEEP_BATCH_SIZE },
    cacheSeconds: env.CACHE_SECONDS,
    passwords: {
      pepper: env.PASSWORD_PEPPER,
      argon2: {
        memoryCost: env.ARGON2_MEMORY_KIB,
        timeCost: env.ARGON2_TIME_COST,
        parallelism: env.ARGON2_PARALLELISM,
      },
    },
    signIn: {
      lockout: {
        threshold: env.LOCKOUT_THRESHOLD,
        baseSeconds: env.LOCKOUT_BASE_SECONDS,
        maxSeconds: Math.max(env.LOCKOUT_MAX_SECONDS, env.LOCKOUT_BASE_SECONDS),
      },
      ipFailureLimit: env.IP_FAILURE_LIMIT,
      ipPendingLimit: env.IP_PENDING_LIMIT,
      ipWindowSeconds: env.IP_FAILURE_WINDOW_SECONDS,
    },
    clientRateLimit: { default: env.CLIENT_RATE_LIMIT, syncMs: env.CLIENT_RATE_LIMIT_SYNC_MS },
    mfa: {
      required: env.REQUIRE_MFA,
      acr: { 1: env.ACR_VALUES[0]!, 2: env.ACR_VALUES[1]!, 3: env.ACR_VALUES[2]! },
      rpName: env.WEBAUTHN_RP_NAME,
      changeMaxAgeSeconds: env.FACTOR_CHANGE_MAX_AGE_SECONDS,
    },
    sessions: {
      absoluteSeconds: env.SESSION_ABSOLUTE_SECONDS,
      idleSeconds: Math.min(env.SESSION_IDLE_SECONDS, env.SESSION_ABSOLUTE_SECONDS),
    },
    admin: { tokenTtlSeconds: env.ADMIN_TOKEN_TTL_SECONDS },
    consents: { paymentTtlSeconds: env.PAYMENT_CONSENT_TTL_SECONDS },
    ...featureSettings(env, { issuer, production }),
    auditCoverageDir: env.AUDIT_COVERAGE_DIR,
    defaultLocale: env.DEFAULT_LOCALE,
    theme: themeSetting(env.THEME_DIR),
    warnings,
  };
}
