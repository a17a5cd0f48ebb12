// SQL for the second-factor tables; only src/mfa/ touches them. Every "use once" rule is a
// single conditional statement, so parallel requests on any instance cannot use a secret twice.
import type { Knex } from 'knex';
import { type AheadRows, forgettingOnWrite } from '../db/aheadReads.ts';
import { partOf, runTogether, type StatementPart } from '../db/together.ts';

export interface TotpRow {
  id: string;
  user_id: string;
  secret_sealed: string;
  last_used_step: number | null;
  created_at: Date;
  confirmed_at: Date | null;
}

export interface CredentialRow {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  counter: number;
  transports: string[];
  device_type: string;
  backed_up: boolean;
  aaguid: string | null;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

/** Which second factors a person has: see `factorSummary`. */
export interface FactorRows {
  totp: boolean;
  credentials: Pick<
    CredentialRow,
    'id' | 'name' | 'device_type' | 'backed_up' | 'created_at' | 'last_used_at'
  >[];
  recoveryCodesLeft: number;
}

interface FactorColumns {
  totp: boolean;
  recovery_left: number;
  credentials: {
    id: string;
    name: string;
    device_type: string;
    backed_up: boolean;
    created_at: string;
    last_used_at: string | null;
  }[];
}

/** The factor summary's columns for the user `user` (an SQL expression, used three times). */
const FACTOR_COLUMNS = (user: string) => `
  exists(select 1 from totp_authenticators
         where user_id = ${user} and confirmed_at is not null) as totp,
  (select count(*) from recovery_codes where user_id = ${user} and used_at is null)
    as recovery_left,
  coalesce((select json_agg(json_build_object('id', c.id, 'name', c.name,
              'device_type', c.device_type, 'backed_up', c.backed_up,
              'created_at', c.created_at, 'last_used_at', c.last_used_at)
            order by c.created_at)
            from webauthn_credentials c where c.user_id = ${user}), '[]'::json) as credentials`;

function factorRows(row: FactorColumns): FactorRows {
  return {
    totp: row.totp,
    recoveryCodesLeft: Number(row.recovery_left),
    // JSON carries times as text: back to Dates, as the credential rows have them.
    credentials: row.credentials.map((c) => ({
      ...c,
      created_at: new Date(c.created_at),
      last_used_at: c.last_used_at === null ? null : new Date(c.last_used_at),
    })),
  };
}

/** A login's saved progress, as login_progress holds it. */
export interface ProgressRow {
  user_id: string;
  amr: string[];
  level: number;
  address_points: number;
}

/**
 * A login's progress with the factors of its person, as a read part of another store's statement
 * (src/db/aheadReads.ts): a scalar subquery giving the row of `progressWithFactors` as JSON (null
 * when there is none) for the SQL text expression `hash`, at the time expression `now`. The
 * artefacts' read-ahead of a login step carries it for the step's Interaction, whose stored key
 * is the same hash.
 */
export function progressWithFactorsAhead(hash: string, now: string): string {
  return `(select to_jsonb(x) from (${PROGRESS_WITH_FACTORS(hash, now)}) x)`;
}

/** A login's progress and its person's factors, for SQL expressions `hash` and `now`. */
const PROGRESS_WITH_FACTORS = (hash: string, now: string) => `
  select p.user_id, p.amr, p.level, p.address_points, ${FACTOR_COLUMNS('p.user_id')}
  from login_progress p where p.interaction_hash = ${hash} and p.expires_at > ${now}`;

type ProgressWithFactors = { progress: ProgressRow; factors: FactorRows };

function progressOf(row: ProgressRow & FactorColumns): ProgressWithFactors {
  const { user_id, amr, level, address_points } = row;
  return { progress: { user_id, amr, level, address_points }, factors: factorRows(row) };
}

export interface MfaStoreOptions {
  /**
   * A login's progress read ahead for the request in progress (src/db/aheadReads.ts): its JSON,
   * `null` when looked for and not there, `false` when not read ahead.
   */
  readAhead?: AheadRows;
}

export function createMfaStore(knex: Knex, options: MfaStoreOptions = {}) {
  const rows = async <T>(sql: string, bindings: Knex.RawBinding[]) =>
    ((await knex.raw(sql, bindings)) as { rows: T[] }).rows;
  /** A person's confirmed authenticator app (at most one). */
  const confirmedTotpQuery = (userId: string) =>
    knex<TotpRow>('totp_authenticators')
      .where({ user_id: userId })
      .whereNotNull('confirmed_at')
      .first();

  const store = {
    /**
     * Which second factors a person has, in one statement (three lookups otherwise): a confirmed
     * authenticator app, the WebAuthn credentials (oldest first), the recovery codes left.
     */
    async factorSummary(userId: string): Promise<FactorRows> {
      const [row] = await rows<FactorColumns>(`select ${FACTOR_COLUMNS('?')}`, [
        userId,
        userId,
        userId,
      ]);
      return factorRows(row!);
    },

    // --- TOTP ---------------------------------------------------------------------------------
    confirmedTotp: (userId: string): Promise<TotpRow | undefined> => confirmedTotpQuery(userId),
    /** `confirmedTotp` as the lookup of another statement (a factor attempt's, which reads it). */
    confirmedTotpPart: (userId: string): StatementPart => partOf(confirmedTotpQuery(userId)),
    pendingTotp: (userId: string, id: string): Promise<TotpRow | undefined> =>
      knex<TotpRow>('totp_authenticators')
        .where({ user_id: userId, id })
        .whereNull('confirmed_at')
        .first(),
    async insertTotp(row: TotpRow): Promise<void> {
      await knex.transaction(async (trx) => {
        // At most one enrolment in progress: a new one replaces the old.
        await trx('totp_authenticators')
          .where({ user_id: row.user_id })
          .whereNull('confirmed_at')
          .delete();
        await trx('totp_authenticators').insert(row);
      });
    },
    /** Inserts confirmed authenticators in one transaction (an import). */
    async insertConfirmedTotps(rows: TotpRow[]): Promise<void> {
      await knex.transaction(async (trx) => {
        for (let start = 0; start < rows.length; start += 1000)
          await trx('totp_authenticators').insert(rows.slice(start, start + 1000));
      });
    },
    /** Confirms a pending authenticator (replacing a confirmed one) at `step`; false if gone. */
    async confirmTotp(userId: string, id: string, step: number, now: Date): Promise<boolean> {
      return knex.transaction(async (trx) => {
        const pending = await trx('totp_authenticators')
          .where({ user_id: userId, id })
          .whereNull('confirmed_at')
          .forUpdate()
          .first();
        if (!pending) return false;
        await trx('totp_authenticators')
          .where({ user_id: userId })
          .whereNotNull('confirmed_at')
          .delete();
        await trx('totp_authenticators')
          .where({ id })
          .update({ confirmed_at: now, last_used_step: step });
        return true;
      });
    },
    /** Records `step` as used unless it or a later one already was: true when this use counts. */
    async useTotpStep(id: string, step: number): Promise<boolean> {
      const updated = await rows(
        'update totp_authenticators set last_used_step = ? where id = ? and (last_used_step is null or last_used_step < ?) returning id',
        [step, id, step],
      );
      return updated.length === 1;
    },
    async deleteTotp(userId: string): Promise<number> {
      return knex('totp_authenticators').where({ user_id: userId }).delete();
    },
    allTotp: (): Promise<Pick<TotpRow, 'id' | 'user_id' | 'secret_sealed'>[]> =>
      knex('totp_authenticators').select('id', 'user_id', 'secret_sealed'),
    async updateTotpSealed(id: string, sealed: string): Promise<void> {
      await knex('totp_authenticators').where({ id }).update({ secret_sealed: sealed });
    },

    // --- WebAuthn -----------------------------------------------------------------------------
    credentialsOf: (userId: string): Promise<CredentialRow[]> =>
      knex<CredentialRow>('webauthn_credentials').where({ user_id: userId }).orderBy('created_at'),
    credentialById: (credentialId: string): Promise<CredentialRow | undefined> =>
      knex<CredentialRow>('webauthn_credentials').where({ credential_id: credentialId }).first(),
    /** Adds a credential; false when its credential id is registered already (nothing added). */
    async insertCredential(row: CredentialRow): Promise<boolean> {
      const inserted = await knex('webauthn_credentials')
        .insert(row)
        .onConflict('credential_id')
        .ignore()
        .returning('id');
      return inserted.length === 1;
    },
    /** Stores a newer signature counter; false when another use already moved it past `counter`. */
    async advanceCounter(
      id: string,
      counter: number,
      backedUp: boolean,
      now: Date,
    ): Promise<boolean> {
      const updated = await rows(
        `update webauthn_credentials set counter = ?, backed_up = ?, last_used_at = ?
         where id = ? and (counter < ? or (counter = 0 and ? = 0)) returning id`,
        [counter, backedUp, now, id, counter, counter],
      );
      return updated.length === 1;
    },
    async renameCredential(userId: string, id: string, name: string): Promise<boolean> {
      return (
        (await knex('webauthn_credentials').where({ user_id: userId, id }).update({ name })) > 0
      );
    },
    async deleteCredential(userId: string, id: string): Promise<boolean> {
      return (await knex('webauthn_credentials').where({ user_id: userId, id }).delete()) > 0;
    },
    async deleteCredentials(userId: string): Promise<number> {
      return knex('webauthn_credentials').where({ user_id: userId }).delete();
    },

    // --- Challenges ---------------------------------------------------------------------------
    async insertChallenge(row: {
      challenge_hash: string;
      purpose: string;
      binding: string;
      user_id: string | null;
      expires_at: Date;
    }): Promise<void> {
      await knex('webauthn_challenges').insert(row);
    },
    /** Takes a challenge out: true only once, only for its purpose and binding, before it expires. */
    async consumeChallenge(
      hash: string,
      purpose: string,
      binding: string,
      now: Date,
    ): Promise<{ user_id: string | null } | undefined> {
      const [row] = await rows<{ user_id: string | null }>(
        'delete from webauthn_challenges where challenge_hash = ? and purpose = ? and binding = ? and expires_at > ? returning user_id',
        [hash, purpose, binding, now],
      );
      return row;
    },

    // --- Recovery codes -----------------------------------------------------------------------
    async replaceRecoveryCodes(userId: string, hashes: string[], now: Date): Promise<void> {
      await knex.transaction(async (trx) => {
        await trx('recovery_codes').where({ user_id: userId }).delete();
        await trx('recovery_codes').insert(
          hashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: now })),
        );
      });
    },
    async useRecoveryCode(userId: string, hash: string, now: Date): Promise<boolean> {
      const updated = await rows(
        'update recovery_codes set used_at = ? where user_id = ? and code_hash = ? and used_at is null returning code_hash',
        [now, userId, hash],
      );
      return updated.length === 1;
    },
    async recoveryCodesLeft(userId: string): Promise<number> {
      const row = await knex('recovery_codes')
        .where({ user_id: userId })
        .whereNull('used_at')
        .count<{ n: string | number }[]>('* as n')
        .first();
      return Number(row?.n ?? 0);
    },
    async deleteRecoveryCodes(userId: string): Promise<number> {
      return knex('recovery_codes').where({ user_id: userId }).delete();
    },

    // --- Login progress -----------------------------------------------------------------------
    /** Saves a login's progress, in one statement with `alongside` (the step's other writes). */
    async saveProgress(
      row: {
        interaction_hash: string;
        user_id: string;
        amr: string[];
        level: number;
        address_points: number;
        expires_at: Date;
      },
      alongside: readonly StatementPart[] = [],
    ): Promise<void> {
      if (alongside.length === 0) {
        await knex('login_progress').insert(row).onConflict('interaction_hash').merge();
        return;
      }
      // The amr list as JSON: a part binds no arrays (src/db/together.ts).
      await runTogether(knex, alongside, {
        sql: `insert into login_progress
                (interaction_hash, user_id, amr, level, address_points, expires_at)
              values (?, ?, array(select jsonb_array_elements_text(cast(? as jsonb))), ?, ?, ?)
              on conflict (interaction_hash) do update set user_id = excluded.user_id,
                amr = excluded.amr, level = excluded.level,
                address_points = excluded.address_points, expires_at = excluded.expires_at`,
        bindings: [
          row.interaction_hash,
          row.user_id,
          JSON.stringify(row.amr),
          row.level,
          row.address_points,
          row.expires_at,
        ],
      });
    },
    /**
     * A login's progress and, in the same statement, the factors of the person it is for: what
     * every step between the factors reads first (one statement instead of two).
     */
    async progressWithFactors(hash: string, now: Date): Promise<ProgressWithFactors | undefined> {
      const early = options.readAhead ? options.readAhead.take(hash) : false;
      if (early !== false)
        return early === null
          ? undefined
          : progressOf(early as unknown as ProgressRow & FactorColumns);
      const [row] = await rows<ProgressRow & FactorColumns>(PROGRESS_WITH_FACTORS('?', '?'), [
        hash,
        now,
      ]);
      return row && progressOf(row);
    },
    async clearProgress(hash: string): Promise<void> {
      await knex('login_progress').where({ interaction_hash: hash }).delete();
    },
    /** `clearProgress` as a part of the statement that completes the sign-in. */
    clearProgressPart: (hash: string): StatementPart =>
      partOf(knex('login_progress').where({ interaction_hash: hash }).delete()),

    /** Deletes expired challenges and abandoned logins. */
    async sweep(now: Date): Promise<number> {
      const a = await knex('webauthn_challenges').where('expires_at', '<', now).delete();
      const b = await knex('login_progress').where('expires_at', '<', now).delete();
      return a + b;
    },
  };
  // A write to these tables: a login's progress read ahead for the request is read again (its
  // factors may have changed with it).
  return options.readAhead ? forgettingOnWrite(store, MFA_READS, options.readAhead.forget) : store;
}

/** The store's functions that only read (any other may change a progress read ahead). */
const MFA_READS = new Set([
  'factorSummary',
  'confirmedTotp',
  'confirmedTotpPart',
  'pendingTotp',
  'allTotp',
  'credentialsOf',
  'credentialById',
  'recoveryCodesLeft',
  'progressWithFactors',
]);

export type MfaStore = ReturnType<typeof createMfaStore>;
