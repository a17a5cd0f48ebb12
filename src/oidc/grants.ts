// What a person has authorised, read from the artefacts table: their grants, and revocation of
// a client's grants together with every token and code issued from them.
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';

export interface GrantSummary {
  grantId: string;
  clientId: string;
  /** OpenID Connect scopes granted (openid, profile, email, offline_access). */
  oidcScopes: string[];
  /** API identifier -> scopes granted. */
  resources: Record<string, string[]>;
  grantedAt: Date | undefined;
  expiresAt: Date | undefined;
}

interface GrantPayload {
  clientId?: string;
  openid?: { scope?: string };
  resources?: Record<string, string>;
  iat?: number;
  exp?: number;
}

export function createGrantRegistry({ knex, clock }: { knex: Knex; clock: Clock }) {
  return {
    /** Live grants of an account, newest first. */
    async list(accountId: string): Promise<GrantSummary[]> {
      const rows = (await knex('oidc_artifacts')
        .where({ model: 'Grant', account_id: accountId })
        .where((q) => q.whereNull('expires_at').orWhere('expires_at', '>', new Date(clock.now())))
        .select('id', 'payload')) as { id: string; payload: GrantPayload }[];
      return rows
        .map(({ id, payload }) => ({
          grantId: id,
          clientId: payload.clientId ?? '',
          oidcScopes: payload.openid?.scope?.split(' ').filter(Boolean) ?? [],
          resources: Object.fromEntries(
            Object.entries(payload.resources ?? {}).map(([r, s]) => [
              r,
              s.split(' ').filter(Boolean),
            ]),
          ),
          grantedAt: payload.iat ? new Date(payload.iat * 1000) : undefined,
          expiresAt: payload.exp ? new Date(payload.exp * 1000) : undefined,
        }))
        .sort((a, b) => (b.grantedAt?.getTime() ?? 0) - (a.grantedAt?.getTime() ?? 0));
    },

    /**
     * Revokes what an account granted a client: every grant of theirs for it, and every
     * artefact issued from those grants (access and refresh tokens, codes). Returns how many
     * grants were revoked (0 when there was none).
     */
    async revokeClient(accountId: string, clientId: string): Promise<number> {
      return knex.transaction(async (trx) => {
        const grantIds = (await trx('oidc_artifacts')
          .where({ model: 'Grant', account_id: accountId })
          .whereRaw("payload->>'clientId' = ?", [clientId])
          .pluck('id')) as string[];
        if (grantIds.length === 0) return 0;
        await trx('oidc_artifacts')
          .whereIn('grant_id', grantIds)
          .orWhere((q) => q.where('model', 'Grant').whereIn('id', grantIds))
          .delete();
        return grantIds.length;
      });
    },

    /** Ends every session and revokes every grant and token of an account ("sign out everywhere"). */
    async revokeAll(accountId: string): Promise<number> {
      return knex.transaction(async (trx) => {
        const grantIds = (await trx('oidc_artifacts')
          .where({ model: 'Grant', account_id: accountId })
          .pluck('id')) as string[];
        let deleted = 0;
        if (grantIds.length)
          deleted += await trx('oidc_artifacts').whereIn('grant_id', grantIds).delete();
        deleted += await trx('oidc_artifacts').where({ account_id: accountId }).delete();
        return deleted;
      });
    },
  };
}

export type GrantRegistry = ReturnType<typeof createGrantRegistry>;
