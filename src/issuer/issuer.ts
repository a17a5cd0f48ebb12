// The issuer a database serves: recorded by the first process that uses the database, changed
// only by `portcullis issuer set` (audited), never by a process that merely starts with another
// ISSUER. State derived from it (the admin API's identifier, the clients allowed that API, the
// account page's redirect URI) moves with it in the same transaction.
import type { Knex } from 'knex';
import { httpUrl } from '../config.ts';
import { invalid } from '../errors.ts';
import { createIssuerStore } from './store.ts';

/** The one line a server refuses with, and the CLI warns with, when ISSUER is not the stored one. */
export const issuerMismatch = (configured: string, stored: string) =>
  `ISSUER is ${configured} but this database serves ${stored}; run \`portcullis issuer set ${configured}\` to move it`;

/** Moves everything derived from the issuer to `to`, inside `trx`; returns what it moved. */
export type MoveDerivedState = (
  trx: Knex.Transaction,
  to: string,
) => Promise<{ clientsMoved: number }>;

export interface IssuerChange {
  from: string | undefined;
  to: string;
  clientsMoved: number;
}

export function createIssuer({
  knex,
  moveDerivedState,
}: {
  knex: Knex;
  moveDerivedState: MoveDerivedState;
}) {
  const store = createIssuerStore(knex);
  return {
    /** The stored issuer; undefined on a database no process has used yet. */
    stored: () => store.get(),

    /** The stored issuer, recording `configured` first when none is (the first start). */
    async served(configured: string): Promise<string> {
      return (await store.get()) ?? (await store.recordFirst(configured));
    },

    /** Makes `to` the issuer this database serves, and moves what derives from it, atomically. */
    async change(to: string): Promise<IssuerChange> {
      const parsed = httpUrl.safeParse(to);
      if (!parsed.success) throw invalid(`the issuer ${parsed.error.issues[0]!.message}`);
      const issuer = parsed.data;
      return knex.transaction(async (trx) => {
        const from = await store.replace(trx, issuer);
        if (from === issuer) return { from, to: issuer, clientsMoved: 0 };
        const { clientsMoved } = await moveDerivedState(trx, issuer);
        return { from, to: issuer, clientsMoved };
      });
    },
  };
}

export type Issuer = ReturnType<typeof createIssuer>;

/** The stored issuer, read before anything is built (a server refuses before writing anything). */
export const storedIssuer = (knex: Knex) => createIssuerStore(knex).get();

/**
 * Whether a server start may move the stored issuer to its ISSUER by itself: only in development
 * on the embedded database, which one process owns at a time (its lock file), so no other
 * instance is serving the old issuer. On PostgreSQL or in production never.
 */
export const issuerFollowsStart = (config: {
  env: string;
  database: { url: string | undefined };
}) => config.env !== 'production' && config.database.url === undefined;
