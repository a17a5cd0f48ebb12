// Backchannel authentication (CIBA) assembled for the composition root: the approvals and their
// store, the notification mail outbox, the provider's hooks, the completion of decided requests,
// the account page routes and the background work (mail sender, sweep).
import type { Knex } from 'knex';
import type { Accounts } from './accounts/accounts.ts';
import type { AuditEventInput } from './audit/log.ts';
import { createApprovals } from './ciba/approvals.ts';
import { createApprovalStore } from './ciba/store.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import { type ApprovalPageDeps, approvalRoutes } from './interactions/approvals.ts';
import type { Sealer } from './keys/envelope.ts';
import type { Logger } from './log.ts';
import { createMailOutbox } from './mail/outbox.ts';
import type { SmtpOptions } from './mail/smtp.ts';
import { createMailStore } from './mail/store.ts';
import type { AssurancePolicy } from './oidc/assurancePolicy.ts';
import { cibaConfiguration, createCibaCompletion } from './oidc/ciba.ts';
import type { OidcRuntime } from './oidc/provider.ts';

export function createCibaParts(deps: {
  config: Config;
  knex: Knex;
  sealer: Sealer;
  clock: Clock;
  logger: Logger;
  accounts: Accounts;
  assurancePolicy: AssurancePolicy;
  record: (event: AuditEventInput) => Promise<void>;
  runtime: () => OidcRuntime;
  /** Tests: TLS options for the SMTP connection (a CA). */
  smtpTls?: SmtpOptions['tls'];
}) {
  const { config, clock, logger } = deps;
  const approvals = createApprovals({
    store: createApprovalStore(deps.knex),
    sealer: deps.sealer,
    clock,
  });
  const mail = createMailOutbox({
    store: createMailStore(deps.knex),
    clock,
    logger,
    settings: {
      smtpUrl: config.mail.smtpUrl,
      from: config.mail.from,
      requireTls: config.mail.requireTls,
    },
    tls: deps.smtpTls,
  });
  const completion = createCibaCompletion(deps.runtime, logger);
  const configuration = cibaConfiguration({
    accounts: deps.accounts,
    approvals,
    assurancePolicy: deps.assurancePolicy,
    mail,
    issuer: config.issuer,
    maxExpirySeconds: config.ciba.maxExpirySeconds,
    defaultExpirySeconds: config.ciba.defaultExpirySeconds,
    record: deps.record,
    clock,
  });
  let mailOffNoted = false;

  return {
    approvals,
    mail,
    completion,
    configuration,
    routes: (pages: Omit<ApprovalPageDeps, 'approvals' | 'completion'>) =>
      approvalRoutes({ ...pages, approvals, completion }),
    /** Deletes old approvals and mails; returns how many. */
    sweep: async () => (await approvals.sweep()) + (await mail.sweep()),
    /** Starts the mail sender (or says once that mail is off). */
    start(every: (seconds: number, name: string, task: () => Promise<unknown>) => void): void {
      if (!mail.enabled) {
        if (!mailOffNoted)
          logger.info(
            'SMTP_URL is not set: no notification mails (approvals wait on the account page)',
          );
        mailOffNoted = true;
        return;
      }
      every(config.mail.sendIntervalSeconds, 'mail', () => mail.deliverDue());
    },
  };
}

export type CibaParts = ReturnType<typeof createCibaParts>;
