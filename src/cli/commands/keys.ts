// `portcullis keys list|rotate|reencrypt`: the signing-key ring and secrets at rest.
import type { Command } from 'commander';
import { auditChange, withApp } from '../context.ts';
import { print, printTable } from '../output.ts';

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('manage signing keys and encryption at rest');

  keys
    .command('list')
    .description('list signing keys and their status')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withApp(async (app) => {
        const list = await app.services.signingKeys.list();
        print(opts.json, list, () =>
          printTable(list as never, ['kid', 'alg', 'status', 'activatesAt', 'retiresAt']),
        );
      });
    });

  keys
    .command('rotate')
    .description(
      'stage a new signing key: published now, signing after KEYS_ACTIVATION_DELAY_SECONDS',
    )
    .option(
      '--now',
      'sign with the new key at once (for a compromised key; relying parties must refetch JWKS)',
    )
    .option('--json', 'print as JSON')
    .action(async (opts: { now?: boolean; json?: boolean }) => {
      await withApp(async (app) => {
        const { key, retiresPreviousAt } = await app.services.signingKeys.rotate({
          immediately: opts.now,
        });
        await auditChange(
          app,
          'key.rotated',
          { type: 'signing_key', id: key.kid },
          {
            alg: key.alg,
            activatesAt: key.activatesAt.toISOString(),
            retiresPreviousAt: retiresPreviousAt.toISOString(),
            immediately: Boolean(opts.now),
          },
        );
        print(opts.json, { ...key, retiresPreviousAt }, () => {
          process.stdout.write(
            `staged key ${key.kid} (${key.alg}): signs from ${key.activatesAt.toISOString()}\n`,
          );
          process.stdout.write(
            `previous keys stay published until ${retiresPreviousAt.toISOString()}\n`,
          );
        });
      });
    });

  keys
    .command('reencrypt')
    .description('re-wrap every secret at rest under the first ENCRYPTION_KEYS entry')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withApp(async (app) => {
        const moved = {
          signingKeys: await app.services.signingKeys.reencrypt(),
          clientSecrets: await app.services.clients.reencrypt(),
          totpSeeds: await app.services.totp.reencrypt(),
        };
        // Counts only; named so the audit log's redaction of secret-looking keys leaves them be.
        await auditChange(app, 'secrets.reencrypted', undefined, {
          signingKeysMoved: moved.signingKeys,
          clientsMoved: moved.clientSecrets,
          authenticatorAppsMoved: moved.totpSeeds,
          encryptionKeyId: app.services.sealer.activeKeyId,
        });
        print(opts.json, moved, () =>
          process.stdout.write(
            `re-wrapped ${moved.signingKeys} signing keys, ${moved.clientSecrets} client secrets and ${moved.totpSeeds} TOTP seeds under ${app.services.sealer.activeKeyId}\n`,
          ),
        );
      });
    });
}
