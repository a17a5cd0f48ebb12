// What a person has authorised, read from the artefact store: their grants, and revocation of
// grants together with every session, token and code issued from them.
import type { ArtifactStore } from './artifactStore.ts';

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

export function createGrantRegistry({ artifacts }: { artifacts: ArtifactStore }) {
  return {
    /** Live grants of an account, newest first. */
    async list(accountId: string): Promise<GrantSummary[]> {
      const rows = (await artifacts.grantsOf(accountId)) as { id: string; payload: GrantPayload }[];
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
    revokeClient: (accountId: string, clientId: string): Promise<number> =>
      artifacts.revokeAccountClient(accountId, clientId),

    /**
     * Revokes one grant and every token and code issued from it (e.g. when the consent made
     * with it is revoked). Returns the rows deleted (0 when the grant was already gone).
     */
    revokeGrant: (grantId: string): Promise<number> => artifacts.revokeGrant(grantId),

    /** Ends every session and revokes every grant and token of an account ("sign out everywhere"). */
    revokeAll: (accountId: string): Promise<number> => artifacts.revokeAccount(accountId),

    /**
     * Revokes everything issued to a client, for everyone: its grants and their tokens and
     * codes, its client credentials tokens, registration access tokens and pushed requests.
     * Called when the client is deleted. Returns the rows deleted.
     */
    revokeAllOfClient: (clientId: string): Promise<number> => artifacts.revokeClient(clientId),
  };
}

export type GrantRegistry = ReturnType<typeof createGrantRegistry>;
