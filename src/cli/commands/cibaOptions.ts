// The CIBA options of `portcullis client create`: declared on the command, and read into what
// the client rules take (which check them and name the problem).
import type { Command } from 'commander';
import {
  type BackchannelInput,
  CIBA_SIGNING_ALGS,
  DELIVERY_MODES,
  type DeliveryMode,
} from '../../oidc/cibaClients.ts';
import { CliError } from '../output.ts';

export interface CibaOptions {
  grant: string[];
  cibaMode?: string;
  cibaNotificationEndpoint?: string;
  cibaSigningAlg?: string;
}

export function addCibaOptions(command: Command): Command {
  return command
    .option(
      '--ciba-mode <mode>',
      `CIBA token delivery: ${DELIVERY_MODES.join(' or ')} (default: poll)`,
    )
    .option('--ciba-notification-endpoint <url>', 'CIBA ping mode: the https endpoint notified')
    .option(
      '--ciba-signing-alg <alg>',
      `CIBA requests only as request objects signed with ${CIBA_SIGNING_ALGS.join(', ')} (fapi2: required)`,
    );
}

/** The CIBA options as the client rules take them; undefined when none is given. */
export function backchannelOption(opts: CibaOptions): BackchannelInput | undefined {
  if (!opts.cibaMode && !opts.cibaNotificationEndpoint && !opts.cibaSigningAlg) return undefined;
  if (opts.cibaMode !== undefined && !DELIVERY_MODES.includes(opts.cibaMode as DeliveryMode))
    throw new CliError(`--ciba-mode must be ${DELIVERY_MODES.join(' or ')}`);
  return {
    mode: opts.cibaMode as DeliveryMode | undefined,
    notificationEndpoint: opts.cibaNotificationEndpoint,
    signingAlg: opts.cibaSigningAlg,
  };
}
