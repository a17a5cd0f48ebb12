// Scenario 8: growth. Stores many tokens and grants (default 1,000,000 rows) in the bench
// database, then reruns introspection (4) and client credentials (1) against the empty-database run.
import { artifactCounts, growArtifacts } from '../database.ts';
import { JWT_API } from '../world.ts';
import type { GrowthScenario } from './types.ts';

export const growth: GrowthScenario = {
  number: 8,
  title: 'growth: scenarios 4 and 1 after many stored tokens and grants',
  measures:
    'whether lookups stay index-bound as oidc_artifacts grows (primary key, grant index, expiry ' +
    'index) and whether the table size shows in latency',
  goal: { ratio: 0.9, of: 'empty database' },
  reruns: [4, 1],
  async grow(env, knex) {
    env.say(`growth: inserting ${env.options.growthRows.toLocaleString('en')} rows`);
    const started = Date.now();
    const inserted = await growArtifacts(knex, {
      rows: env.options.growthRows,
      clientId: env.world.basic.clientId,
      audience: JWT_API.identifier,
      scope: JWT_API.scope,
    });
    const seconds = (Date.now() - started) / 1000;
    const counts = await artifactCounts(knex);
    const size = (await knex.raw(
      "select pg_size_pretty(pg_total_relation_size('oidc_artifacts')) as size",
    )) as { rows: { size: string }[] };
    env.say(`growth: ${inserted} rows in ${seconds.toFixed(1)}s; table ${size.rows[0]?.size}`);
    return { inserted, seconds, rowsByModel: counts, tableSize: size.rows[0]?.size };
  },
};
