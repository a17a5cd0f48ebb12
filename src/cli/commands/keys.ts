// `portcullis keys list|rotate|revoke|reencrypt`: the signing-key ring and secrets at rest.
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
          printTable(list as never, [
            'kid',
            'alg',
            'status',
            'activatesAt',
            'retiresAt',
            'revokedAt',
          ]),
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
      'sign with the new key at once (the old keys stay published and trusted until what they signed expires: for a compromised key use keys revoke)',
    )
    .option(
      '--alg <alg>',
      "the algorithm whose key is replaced, one of SIGNING_ALGS (default: the first); each algorithm's key rotates on its own",
    )
    .option('--json', 'print as JSON')
    .action(async (opts: { now?: boolean; alg?: string; json?: boolean }) => {
      await withApp(async (app) => {
        const { key, retiresPreviousAt } = await app.services.signingKeys.rotate({
          immediately: opts.now,
          alg: opts.alg,
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
            `previous ${key.alg} keys stay published until ${retiresPreviousAt.toISOString()}\n`,
          );
        });
      });
    });

  keys
    .command('revoke')
    .argument('<kid>', 'the key to revoke (see keys list)')
    .description(
      'revoke a compromised signing key: unpublished and no longer trusted at once on every instance; if it signs now, a new key signs instead',
    )
    .option('--json', 'print as JSON')
    // A kid is base64url and may begin with "-": taken as the kid, not refused as an option.
    .allowUnknownOption()
    .action(async (kid: string, opts: { json?: boolean }) => {
      await withApp(async (app) => {
        const { key, wasActive, replacement } = await app.services.signingKeys.revoke(kid);
        await auditChange(
          app,
          'key.revoked',
          { type: 'signing_key', id: key.kid },
          {
            alg: key.alg,
            wasActive,
            ...(replacement ? { replacedBy: replacement.kid } : {}),
          },
        );
        print(opts.json, { ...key, replacement }, () => {
          process.stdout.write(
            `revoked key ${key.kid} (${key.alg}): no longer published, tokens it signed are refused\n`,
          );
          if (replacement)
            process.stdout.write(
              `new key ${replacement.kid} (${replacement.alg}) signs from now on; relying parties fetch it from the JWKS\n`,
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
