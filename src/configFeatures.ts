// Environment -> Config of the protocol features beside the core server: back-channel logout
// delivery, dynamic registration, the device flow, CIBA with its notification mails, FAPI_PROFILE.
import { z } from 'zod';
import { LOOPBACK } from './configProduction.ts';
import { bool, int } from './configValues.ts';

/** The settings these variables become (part of Config, src/config.ts). */
export interface FeatureSettings {
  /**
   * Back-channel logout delivery (src/logout/outbox.ts): per attempt timeout, attempts before
   * giving up, first retry delay (doubled each time), and how often each instance looks for
   * notices due (0: this instance only sends those of its own logouts, at once).
   */
  logout: { timeoutMs: number; maxAttempts: number; retrySeconds: number; pollSeconds: number };
  /** Dynamic client registration (RFC 7591/7592), always with an initial access token. */
  registration: { enabled: boolean };
  /**
   * Device authorization grant (RFC 8628): how long a user code lives, the polling interval
   * devices are told (faster polls get slow_down), and wrong user codes allowed per address
   * and window on the device page.
   */
  deviceFlow: {
    codeSeconds: number;
    pollIntervalSeconds: number;
    failureLimit: number;
    failureWindowSeconds: number;
  };
  /** Notification mails (CIBA approvals): SMTP_URL unset = no mail. */
  mail: {
    smtpUrl: string | undefined;
    from: string;
    sendIntervalSeconds: number;
    /** Never send in clear: production, unless the SMTP server is on loopback. */
    requireTls: boolean;
  };
  /** Backchannel authentication (CIBA): how long a request waits for the person. */
  ciba: { defaultExpirySeconds: number; maxExpirySeconds: number };
  /** FAPI_PROFILE: '2.0' makes every client a FAPI 2.0 client; unset, each client has its own profile. */
  fapiProfile: '2.0' | undefined;
}

/** Each variable: its schema and its default (a string, as it would be written in the environment). */
export const featureEnvSchema = z.object({
  // Back-channel logout delivery to relying parties (src/logout/outbox.ts).
  BACKCHANNEL_LOGOUT_TIMEOUT_MS: int(100, 30000).default(5000),
  BACKCHANNEL_LOGOUT_MAX_ATTEMPTS: int(1, 50).default(8),
  BACKCHANNEL_LOGOUT_RETRY_SECONDS: int(1, 3600).default(30),
  BACKCHANNEL_LOGOUT_POLL_SECONDS: int(0, 3600).default(10),
  DYNAMIC_REGISTRATION: bool.default(true),
  DEVICE_CODE_TTL_SECONDS: int(60, 1800).default(600),
  DEVICE_POLL_INTERVAL_SECONDS: int(1, 60).default(5),
  DEVICE_CODE_FAILURE_LIMIT: int(1, 1000).default(10),
  DEVICE_CODE_FAILURE_WINDOW_SECONDS: int(60, 86400).default(900),
  // 2.0: every client is a FAPI 2.0 client (src/oidc/profiles.ts); unset: per client.
  FAPI_PROFILE: z
    .enum(['2.0'], 'must be 2.0 (or unset: each client has its own profile)')
    .optional(),
  // Notification mails (src/mail/): smtp://[user:pass@]host[:port] (STARTTLS when offered) or smtps://.
  SMTP_URL: z
    .string()
    .refine(
      (v) => ['smtp:', 'smtps:'].includes(URL.parse(v)?.protocol ?? ''),
      'must be an smtp:// or smtps:// URL',
    )
    .optional(),
  MAIL_FROM: z
    .string()
    .regex(/^[^\s<>()[\]\\,;:"@]+@[^\s<>()[\]\\,;:"@]+$/, 'must be a plain mail address')
    .optional(),
  MAIL_SEND_INTERVAL_SECONDS: int(1, 3600).default(10),
  CIBA_DEFAULT_EXPIRY_SECONDS: int(30, 3600).default(300),
  CIBA_MAX_EXPIRY_SECONDS: int(30, 3600).default(600),
});

type FeatureEnv = z.infer<typeof featureEnvSchema>;

/** The parsed variables as settings; the mail sender's address defaults to one of the issuer's host. */
export function featureSettings(
  env: FeatureEnv,
  { issuer, production }: { issuer: string; production: boolean },
): FeatureSettings {
  return {
    logout: {
      timeoutMs: env.BACKCHANNEL_LOGOUT_TIMEOUT_MS,
      maxAttempts: env.BACKCHANNEL_LOGOUT_MAX_ATTEMPTS,
      retrySeconds: env.BACKCHANNEL_LOGOUT_RETRY_SECONDS,
      pollSeconds: env.BACKCHANNEL_LOGOUT_POLL_SECONDS,
    },
    registration: { enabled: env.DYNAMIC_REGISTRATION },
    deviceFlow: {
      codeSeconds: env.DEVICE_CODE_TTL_SECONDS,
      pollIntervalSeconds: env.DEVICE_POLL_INTERVAL_SECONDS,
      failureLimit: env.DEVICE_CODE_FAILURE_LIMIT,
      failureWindowSeconds: env.DEVICE_CODE_FAILURE_WINDOW_SECONDS,
    },
    mail: {
      smtpUrl: env.SMTP_URL,
      from: env.MAIL_FROM ?? `portcullis@${new URL(issuer).hostname}`,
      sendIntervalSeconds: env.MAIL_SEND_INTERVAL_SECONDS,
      requireTls:
        production && env.SMTP_URL !== undefined && !LOOPBACK.has(new URL(env.SMTP_URL).hostname),
    },
    ciba: {
      defaultExpirySeconds: Math.min(env.CIBA_DEFAULT_EXPIRY_SECONDS, env.CIBA_MAX_EXPIRY_SECONDS),
      maxExpirySeconds: env.CIBA_MAX_EXPIRY_SECONDS,
    },
    fapiProfile: env.FAPI_PROFILE,
  };
}
