// What /readyz checks before a load balancer sends this instance traffic: the database answers,
// its migrations are current, a signing key is active, and the database serves this ISSUER.
import type { Knex } from 'knex';
import { pendingMigrations } from './db/migrate.ts';
import type { ReadinessCheck } from './http/health.ts';

export function readinessChecks(parts: {
  knex: Knex;
  issuer: string;
  storedIssuer: () => Promise<string | undefined>;
  hasSigningKey: () => boolean;
}): ReadinessCheck[] {
  // Once current, migrations stay current for this process: no query per probe.
  let migrationsCurrent = false;
  return [
    { name: 'database', check: async () => void (await parts.knex.raw('select 1')) },
    {
      name: 'migrations',
      check: async () => {
        if (migrationsCurrent) return undefined;
        const pending = await pendingMigrations(parts.knex);
        migrationsCurrent = pending.length === 0;
        return migrationsCurrent ? undefined : `${pending.length} pending`;
      },
    },
    {
      name: 'signing_key',
      check: async () => (parts.hasSigningKey() ? undefined : 'no active signing key'),
    },
    {
      // After `portcullis issuer set`, an instance still on the old ISSUER leaves the pool.
      name: 'issuer',
      check: async () => {
        const stored = await parts.storedIssuer();
        return stored === parts.issuer ? undefined : `this database serves ${stored}`;
      },
    },
  ];
}
