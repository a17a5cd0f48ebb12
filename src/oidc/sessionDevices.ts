// Which device a browser session signed in from, for the account page's list of sessions: at
// each sign-in (an authorization answered right after a login), the browser and operating system
// its user agent names are kept beside the session, never the user agent or the address.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import { deviceOf } from '../http/userAgent.ts';
import type { ArtifactStore } from './artifactStore.ts';

export interface SessionDeviceDeps {
  artifacts: Pick<ArtifactStore, 'noteSessionDevice'>;
  clock: Clock;
  /** A session ends at the latest this long after sign-in: the note goes with it (the sweep). */
  absoluteSeconds: number;
  /** Holds the response until the write settles (src/oidc/auditGate.ts). */
  hold: (write: Promise<unknown>) => boolean;
}

export function noteSessionDevices(provider: Provider, deps: SessionDeviceDeps): void {
  const on = provider.on as (e: string, l: (ctx: KoaContextWithOIDC) => void) => void;
  on.call(provider, 'authorization.success', (ctx: KoaContextWithOIDC) => {
    const session = ctx.oidc?.session as { uid?: string; accountId?: string } | undefined;
    if (!ctx.oidc?.result?.login || !session?.uid || !session.accountId) return;
    const expiresAt = new Date(deps.clock.now() + deps.absoluteSeconds * 1000);
    const write = deps.artifacts.noteSessionDevice(
      session.uid,
      session.accountId,
      deviceOf(ctx.get('user-agent')),
      expiresAt,
    );
    write.catch(() => {}); // the gate answers 503 when it fails; a device note is not worth more
    deps.hold(write);
  });
}
