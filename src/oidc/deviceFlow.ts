// The device authorization grant (RFC 8628): oidc-provider's deviceFlow feature with its three
// pages rendered by Portcullis (a port, src/interactions/device.ts), the polling interval told to
// devices, and `slow_down` for a device that polls sooner (the library itself never sends it).
import { createHash } from 'node:crypto';
import type Koa from 'koa';
import Provider, { type Configuration, errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ThrottleStore } from '../accounts/throttleStore.ts';
import type { Clock } from '../clock.ts';

/** What went wrong with the code entered on the device page (none: the page is first shown). */
export type DeviceCodeProblem = 'not_found' | 'expired' | 'used' | 'missing' | 'aborted' | 'error';

/** The device page: one form (action, the library's anti-forgery value), a code to show back. */
export interface DeviceCodeForm {
  action: string;
  xsrf: string;
}

/** The device pages, rendered with Portcullis' views (src/interactions/device.ts). */
export interface DevicePages {
  /** Enter the code; again with the problem when a code was refused or the request aborted. */
  input(
    ctx: Koa.Context,
    page: DeviceCodeForm & {
      problem?: DeviceCodeProblem | undefined;
      /** The code entered (shown back when it was refused). */
      userCode?: string | undefined;
      /** Who aborted, and for which client (for the audit log), when the problem is `aborted`. */
      clientId?: string | undefined;
      accountId?: string | undefined;
    },
  ): Promise<void>;
  /** Is this the code your device shows, and this the client? Continue or cancel. */
  confirm(
    ctx: Koa.Context,
    page: DeviceCodeForm & { userCode: string; clientId: string; clientName: string },
  ): Promise<void>;
  /** The person approved: the device gets its tokens at its next poll. */
  success(
    ctx: Koa.Context,
    page: { clientId: string; clientName: string; accountId: string | undefined },
  ): Promise<void>;
}

export interface DeviceFlowOptions {
  pages: DevicePages;
  /** Seconds a device code lives. */
  codeSeconds: number;
  /** Seconds a device waits between polls (`interval` of the device authorization response). */
  pollIntervalSeconds: number;
  /**
   * Records a poll of the device code with this key; true when the previous poll of the same
   * code was less than `pollIntervalSeconds` ago (the device gets `slow_down`).
   */
  pollTooSoon(key: string, intervalSeconds: number): Promise<boolean>;
}

const PROBLEMS: Record<string, DeviceCodeProblem> = {
  NotFoundError: 'not_found',
  ExpiredError: 'expired',
  AlreadyUsedError: 'used',
  NoCodeError: 'missing',
  AbortedError: 'aborted',
};

const formOf = (ctx: KoaContextWithOIDC): DeviceCodeForm => ({
  action: ctx.oidc.urlFor('code_verification'),
  xsrf: String((ctx.oidc.session?.state as { secret?: unknown } | undefined)?.secret ?? ''),
});

/** oidc-provider's `features.deviceFlow`: user codes of 8 base-20 letters shown as XXXX-XXXX. */
export function deviceFlowFeature(options: DeviceFlowOptions) {
  const { pages } = options;
  return {
    enabled: true,
    // No vowels, no look-alikes (0/O, 1/I/L, 5/S...): BCDFGHJKLMNPQRSTVWXZ. Input is
    // normalised by the library (case and separators ignored).
    charset: 'base-20',
    mask: '****-****',
    userCodeInputSource: async (
      ctx: KoaContextWithOIDC,
      _form: string,
      _out?: unknown,
      err?: Error & { userCode?: string },
    ) => {
      const entities = ctx.oidc.entities as {
        DeviceCode?: { clientId?: string };
        Interaction?: { params?: { client_id?: string } };
        Client?: { clientId?: string };
      };
      // A refusal before the browser had a session (no cookie, or an expired one): the library
      // would then fail saving the new session (500). Nothing is saved, and the page offers a
      // fresh start instead of a form that could not verify.
      const session = ctx.oidc.session as unknown as { exp?: unknown; touched?: boolean };
      const unsaved = err !== undefined && typeof session?.exp !== 'number';
      if (unsaved) session.touched = false;
      await pages.input(ctx, {
        ...(unsaved ? { action: '', xsrf: '' } : formOf(ctx)),
        problem: err ? (PROBLEMS[err.name] ?? 'error') : undefined,
        userCode: err?.userCode,
        clientId:
          entities.DeviceCode?.clientId ??
          entities.Interaction?.params?.client_id ??
          entities.Client?.clientId,
        accountId: ctx.oidc.session?.accountId,
      });
    },
    userCodeConfirmSource: async (
      ctx: KoaContextWithOIDC,
      _form: string,
      client: { clientId: string; clientName?: string },
      _deviceInfo: unknown,
      userCode: string,
    ) => {
      await pages.confirm(ctx, {
        ...formOf(ctx),
        userCode,
        clientId: client.clientId,
        clientName: client.clientName ?? client.clientId,
      });
    },
    successSource: async (ctx: KoaContextWithOIDC) => {
      const client = ctx.oidc.client!;
      await pages.success(ctx, {
        clientId: client.clientId,
        clientName: client.clientName ?? client.clientId,
        accountId: ctx.oidc.session?.accountId,
      });
    },
  } as NonNullable<Configuration['features']>['deviceFlow'];
}

/** The device code's lifetime (oidc-provider's `ttl.DeviceCode`). */
export const deviceCodeTtl = (options: DeviceFlowOptions) => options.codeSeconds;

/**
 * Tells devices the polling interval, and answers `slow_down` (RFC 8628 section 3.5) to a poll
 * of a pending code sooner than that after the previous one. Only device code polls are looked
 * at: the token endpoint does no extra work for any other grant.
 */
export function paceDevicePolls(provider: Provider, options: DeviceFlowOptions): void {
  const interval = options.pollIntervalSeconds;
  provider.on('device_authorization.success', (_ctx: unknown, body: Record<string, unknown>) => {
    // The response body is still an object here: the interval goes out with it.
    body.interval = interval;
  });
  const DeviceCode = provider.DeviceCode as unknown as {
    find(...args: unknown[]): Promise<DeviceCodeLike | undefined>;
  };
  const find = DeviceCode.find.bind(DeviceCode);
  DeviceCode.find = async (...args: unknown[]) => {
    const code = await find(...args);
    const ctx = Provider.ctx as KoaContextWithOIDC | undefined;
    const pending = code && !code.accountId && !code.error && !code.isExpired && !code.consumed;
    if (pending && ctx?.oidc?.route === 'token' && code.jti) {
      // Keyed by a digest: the device code is a credential and is never stored in clear.
      const key = createHash('sha256').update(code.jti).digest('base64url');
      if (await options.pollTooSoon(key, interval)) {
        throw new errors.SlowDown(
          `poll at most every ${interval} seconds (wait ${interval + 5} seconds now)`,
        );
      }
    }
    return code;
  };
}

interface DeviceCodeLike {
  jti?: string;
  accountId?: string;
  error?: string;
  consumed?: unknown;
  isExpired?: boolean;
}

/**
 * `pollTooSoon` over a fixed-window counter shared by every instance (one atomic statement): the
 * first poll of a window passes, any other before the window ends is too soon.
 */
export function pollPacer(
  throttle: Pick<ThrottleStore, 'consume'>,
  clock: Clock,
): DeviceFlowOptions['pollTooSoon'] {
  return async (key, intervalSeconds) => {
    const { points } = await throttle.consume(
      `device-poll:${key}`,
      new Date(clock.now()),
      intervalSeconds,
    );
    return points > 1;
  };
}
