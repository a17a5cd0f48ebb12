// What a person has authorised, read from the artefact store: their grants, and revocation of
// grants together with every session, token and code issued from them.
import type { ArtifactStore, SessionsEnded } from './artifactStore.ts';

/** Back-channel logout of the sessions a revocation ends (src/oidc/logoutNotices.ts). */
export interface SessionEndings {
  /** Writes the notices of the sessions ended, in the revocation's transaction. */
  ended(reason: string): SessionsEnded;
  /** After the commit: the notices may be delivered. */
  committed(): void;
}

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

/** A signed-in browser of a person, as the account page lists it. */
export interface SessionSummary {
  uid: string;
  createdAt: Date | undefined;
  /** The last full sign-in. */
  signedInAt: Date | undefined;
  /** When it ends unless used again (each use extends it by the idle time). */
  expiresAt: Date | undefined;
  acr: string | undefined;
  /** The applications signed in to with it. */
  clientIds: string[];
  /** The browser and system it signed in from, when noted (src/oidc/sessionDevices.ts). */
  device: { browser?: string; system?: string } | undefined;
}

interface SessionPayload {
  uid?: string;
  iat?: number;
  exp?: number;
  loginTs?: number;
  acr?: string;
  authorizations?: Record<string, unknown>;
  device?: { browser?: string; system?: string };
}

interface GrantPayload {
  clientId?: string;
  rar?: unknown[];
  openid?: { scope?: string };
  resources?: Record<string, string>;
  iat?: number;
  exp?: number;
}

export function createGrantRegistry({
  artifacts,
  endings,
}: {
  artifacts: ArtifactStore;
  endings?: SessionEndings | undefined;
}) {
  const told = async (count: Promise<number>): Promise<number> => {
    const n = await count;
    endings?.committed();
    return n;
  };
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
     * The grant a new browser session of this person may use for this client instead of asking
     * for consent again: their newest live grant to it that holds no authorization_details (a
     * payment or account access is consented to each time). Undefined when there is none.
     */
    async reusable(accountId: string, clientId: string): Promise<string | undefined> {
      const rows = (await artifacts.grantsOf(accountId)) as { id: string; payload: GrantPayload }[];
      return rows
        .filter(({ payload }) => payload.clientId === clientId && !payload.rar?.length)
        .sort((a, b) => (b.payload.iat ?? 0) - (a.payload.iat ?? 0))[0]?.id;
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

    /**
     * Ends every session and revokes every grant and token of an account; the relying parties
     * its sessions signed in to are told (back-channel logout). `reason` says why, for the audit.
     */
    revokeAll: (accountId: string, reason = 'sessions_revoked'): Promise<number> =>
      told(artifacts.revokeAccount(accountId, endings?.ended(reason))),

    /**
     * Ends every session of an account, telling the relying parties they signed in to; grants
     * and tokens stay (a disabled account's tokens stop being refreshed anyway). Sessions ended.
     */
    endSessions: (accountId: string, reason: string): Promise<number> =>
      told(artifacts.endSessions(accountId, endings?.ended(reason))),

    /** The live browser sessions of an account, newest sign-in first. */
    async sessions(accountId: string): Promise<SessionSummary[]> {
      const rows = (await artifacts.sessionsOf(accountId)) as SessionPayload[];
      return rows
        .filter((p) => typeof p.uid === 'string')
        .map((p) => ({
          uid: p.uid!,
          createdAt: p.iat ? new Date(p.iat * 1000) : undefined,
          signedInAt: p.loginTs ? new Date(p.loginTs * 1000) : undefined,
          expiresAt: p.exp ? new Date(p.exp * 1000) : undefined,
          acr: p.acr,
          clientIds: Object.keys(p.authorizations ?? {}),
          device: p.device,
        }))
        .sort((a, b) => (b.signedInAt?.getTime() ?? 0) - (a.signedInAt?.getTime() ?? 0));
    },

    /**
     * Ends one session of an account (a device signed out from the account page) and the codes
     * and tokens bound to it; its relying parties are told. False when there was no such session.
     */
    endSession: async (accountId: string, uid: string, reason: string): Promise<boolean> => {
      const ended = await artifacts.endSession(accountId, uid, endings?.ended(reason));
      endings?.committed();
      return ended;
    },

    /**
     * Revokes everything issued to a client, for everyone: its grants and their tokens and
     * codes, its client credentials tokens, registration access tokens and pushed requests.
     * Called when the client is deleted. Returns the rows deleted.
     */
    revokeAllOfClient: (clientId: string): Promise<number> => artifacts.revokeClient(clientId),
  };
}

export type GrantRegistry = ReturnType<typeof createGrantRegistry>;
