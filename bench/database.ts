// The bench's own PostgreSQL database: created for the run on the server named by DATABASE_URL,
// grown with synthetic rows for the growth scenario, and dropped at the end.
import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { isLocalPostgres } from './processes.ts';

export interface BenchDatabase {
  name: string;
  url: string;
  /** A connection to the bench database (closed by drop). */
  knex: Knex;
  drop(): Promise<void>;
  /** Pids of the server backends connected to this database, other than our own. */
  backendPids(): Promise<number[]>;
}

// knex's own logger prints connection errors with stack traces; the bench reports them itself.
const quietLog = { warn() {}, error() {}, debug() {}, deprecate() {} };

const connect = (url: string) =>
  knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 2 }, log: quietLog });

export async function createBenchDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `portcullis_bench_${randomBytes(5).toString('hex')}`;
  const admin = connect(serverUrl);
  try {
    await admin.raw(`create database "${name}"`);
  } finally {
    await admin.destroy();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const knex = connect(url.href);
  let dropped = false;
  return {
    name,
    url: url.href,
    knex,
    async backendPids() {
      const result = (await knex.raw(
        'select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
      )) as { rows: { pid: number }[] };
      return result.rows.map((r) => r.pid).filter(isLocalPostgres);
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      await knex.destroy();
      const cleanup = connect(serverUrl);
      try {
        await cleanup.raw(`drop database if exists "${name}" with (force)`);
      } finally {
        await cleanup.destroy();
      }
    },
  };
}

export interface GrowthSpec {
  rows: number;
  /** The client and API the synthetic tokens and grants name. */
  clientId: string;
  audience: string;
  scope: string;
}

/**
 * Adds `rows` stored artefacts in one statement: a quarter Grants, a quarter RefreshTokens, half
 * AccessTokens, each token tied to a grant, with hashed ids like the adapter writes, payloads
 * shaped like the provider's and expiries spread over one to two hours (access tokens) or two
 * weeks. Nothing expires during a run, so the sweep has nothing to delete. Then ANALYZE.
 */
export async function growArtifacts(knex: Knex, spec: GrowthSpec): Promise<number> {
  const b64url = (expr: string) =>
    `translate(rtrim(encode(sha256(convert_to(${expr}, 'UTF8')), 'base64'), '='), '+/', '-_')`;
  const result = await knex.raw(
    `with s as (
       select i,
         case i % 4 when 0 then 'Grant' when 1 then 'RefreshToken' else 'AccessToken' end as model,
         left(${b64url(`'grant-' || (i / 4)`)}, 21) as grant_id,
         ${b64url(`'token-' || i`)} as token_hash,
         extract(epoch from now())::bigint as iat
       from generate_series(1, ?::int) as i
     )
     insert into oidc_artifacts (model, id, payload, grant_id, expires_at)
     select model,
       case model when 'Grant' then grant_id else token_hash end,
       case model
         when 'Grant' then jsonb_build_object(
           'kind', 'Grant', 'jti', grant_id, 'accountId', 'user-' || (i % 50000),
           'clientId', ?::text, 'iat', iat, 'exp', iat + 1209600,
           'openid', jsonb_build_object('scope', 'openid'),
           'resources', jsonb_build_object(?::text, ?::text))
         else jsonb_build_object(
           'kind', model, 'iat', iat,
           'exp', iat + case model when 'AccessToken' then 3600 + i % 3600 else 1209600 end,
           'accountId', 'user-' || (i % 50000), 'clientId', ?::text, 'grantId', grant_id,
           'gty', 'authorization_code', 'scope', ?::text, 'aud', ?::text,
           'sessionUid', left(${b64url(`'session-' || (i / 4)`)}, 21),
           'expiresWithSession', false)
       end,
       case model when 'Grant' then null else grant_id end,
       to_timestamp(iat + case model when 'AccessToken' then 3600 + i % 3600 else 1209600 end)
     from s`,
    [spec.rows, spec.clientId, spec.audience, spec.scope, spec.clientId, spec.scope, spec.audience],
  );
  await knex.raw('analyze oidc_artifacts');
  return (result as { rowCount: number }).rowCount;
}

/** Rows per model in oidc_artifacts (reported with the growth results). */
export async function artifactCounts(knex: Knex): Promise<Record<string, number>> {
  const rows = (await knex.raw(
    'select model, count(*)::int as n from oidc_artifacts group by model order by model',
  )) as { rows: { model: string; n: number }[] };
  return Object.fromEntries(rows.rows.map((r) => [r.model, r.n]));
}
