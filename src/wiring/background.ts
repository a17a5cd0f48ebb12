// Builds the background work of the composition root: key-ring refresh, the sweep of expired rows,
// back-channel logout delivery, CIBA mail, and the change notices (signing keys, clients) that
// refresh at once.
import type { Config } from '../config.ts';
import type { Database } from '../db/connect.ts';
import { createJobs, oneAtATime } from '../jobs.ts';
import { type KeyChangeListener, listenForKeyChanges } from '../keys/changeNotices.ts';
import type { ClientLimiter } from '../limits/clientLimiter.ts';
import type { Logger } from '../log.ts';
import type { LogoutOutbox } from '../logout/outbox.ts';
import { CLIENT_CHANGES_CHANNEL } from '../oidc/clientStore.ts';
import type { ClientRegistry } from '../oidc/clients.ts';
import type { DomainServices } from '../services.ts';
import type { Protocol } from './protocol.ts';

export interface BackgroundDeps {
  config: Config;
  db: Database;
  logger: Logger;
  services: DomainServices;
  limiter: ClientLimiter;
  logoutOutbox: LogoutOutbox;
  protocol: Pick<Protocol, 'oidc' | 'ciba' | 'revokedJwts'>;
  clients: Pick<ClientRegistry, 'forget' | 'forgetAll'>;
}

export function createBackgroundWork(deps: BackgroundDeps) {
  const { config, services, limiter, logoutOutbox } = deps;
  const { oidc, ciba, revokedJwts } = deps.protocol;
  const { signingKeys, artifacts, authenticator, progress } = services;
  const jobs = createJobs(deps.logger);
  let keyChanges: KeyChangeListener | undefined;

  // From the poll and from change notices: never two at once, so an older read of the ring
  // cannot land after a newer one (and bring a revoked key back).
  const refreshKeys = oneAtATime(async (): Promise<boolean> => {
    await signingKeys.ensureActiveKey();
    const next = await signingKeys.loadRing();
    return next ? oidc.useRing(next) : false;
  });
  async function sweep(): Promise<number> {
    const expired = await artifacts.sweepExpired(config.sweep.batchSize);
    return (
      expired +
      (await authenticator.sweep()) +
      (await progress.sweep()) +
      (await limiter.sweep()) +
      (await services.consents.expireDue(config.sweep.batchSize)) +
      (await revokedJwts.sweep(config.sweep.batchSize, config.clockToleranceSeconds)) +
      (await ciba.sweep())
    );
  }

  return {
    refreshKeys,
    sweep,
    /** Starts the periodic jobs and, on PostgreSQL, waits until key-change notices arrive. */
    async start(): Promise<void> {
      jobs.every(config.keys.refreshSeconds, 'keys', refreshKeys);
      jobs.every(config.sweep.intervalSeconds, 'sweep', sweep);
      jobs.every(config.logout.pollSeconds, 'backchannel-logout', logoutOutbox.deliverDue);
      ciba.start(jobs.every);
      limiter.start();
      // Key-ring and client changes reach this instance at once (PostgreSQL only; the key poll
      // and CACHE_SECONDS stay as the fallback).
      if (deps.db.listenConnection) {
        keyChanges = listenForKeyChanges({
          connection: deps.db.listenConnection,
          onChange: refreshKeys,
          logger: deps.logger,
          // A client changed on another instance (or by the CLI) is read again at once.
          channels: {
            [CLIENT_CHANGES_CHANNEL]: {
              onNotice: (clientId) => deps.clients.forget(clientId),
              onGap: () => deps.clients.forgetAll(),
            },
          },
        });
        await keyChanges.ready;
      }
    },
    stopJobs(): void {
      jobs.stop();
    },
    async stopKeyChanges(): Promise<void> {
      await keyChanges?.stop();
    },
  };
}
