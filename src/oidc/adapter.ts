// oidc-provider's storage adapter over PostgreSQL: one row per artefact in oidc_artifacts.
// Bearer artefacts are keyed by SHA-256(id) and stored without their id, so a dump of the table
// yields no usable token; consume and replay detection are single atomic statements.
import { createHash } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import type { Clock } from '../clock.ts';
import type { ArtifactRow, ArtifactStore } from './artifactStore.ts';
import { grantKey, recall, remember, sessionKey } from './prefetch.ts';

type Payload = Record<string, unknown>;

/** Models whose id is a bearer secret (a token, a code, a cookie value or a URL secret). */
export const HASHED_MODELS = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'ClientCredentials',
  'InitialAccessToken',
  'RegistrationAccessToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PushedAuthorizationRequest',
  'Session',
  'Interaction',
]);

/**
 * A reference to a bearer artefact by its hash. Payloads that point at another bearer artefact
 * (an Interaction's PAR) store this instead of the id; the adapter accepts it wherever an id goes.
 */
const HASH_REF = 'sha256:';

export function hashId(id: string): string {
  if (id.startsWith(HASH_REF)) return id.slice(HASH_REF.length);
  return createHash('sha256').update(id).digest('base64url');
}

const hashRef = (id: unknown) => (typeof id === 'string' ? `${HASH_REF}${hashId(id)}` : id);

/** Placeholder for the interaction id inside its stored returnTo URL. */
const UID_PLACEHOLDER = '{uid}';

/** Rewrites a payload before it is stored: no bearer id stays in clear. */
function toStored(model: string, id: string, payload: Payload): Payload {
  const stored: Payload = { ...payload };
  delete stored.consumed;
  if (HASHED_MODELS.has(model)) delete stored.jti;
  if (model === 'Interaction') {
    if (typeof stored.returnTo === 'string')
      stored.returnTo = stored.returnTo.split(id).join(UID_PLACEHOLDER);
    if (stored.session && typeof stored.session === 'object') {
      // The session cookie value is not read back by the provider; never keep it.
      const { cookie: _cookie, ...session } = stored.session as Payload;
      stored.session = session;
    }
    if (stored.parJti) stored.parJti = hashRef(stored.parJti);
    if (stored.deviceCode) stored.deviceCode = hashRef(stored.deviceCode);
  }
  return stored;
}

/** Restores what toStored removed, from the id the provider passed in. */
function fromStored(
  model: string,
  id: string | undefined,
  payload: Payload,
  consumedAt: Date | null,
): Payload {
  const out: Payload = { ...payload };
  if (HASHED_MODELS.has(model) && id !== undefined) out.jti = id;
  if (model === 'Interaction' && id !== undefined && typeof out.returnTo === 'string') {
    out.returnTo = out.returnTo.split(UID_PLACEHOLDER).join(id);
  }
  if (consumedAt) out.consumed = Math.floor(consumedAt.getTime() / 1000);
  return out;
}

/** Keeps the Grant and Session that came with a token for the lookups that follow. */
function rememberCompanions(companions: ArtifactRow[]): void {
  for (const row of companions) {
    const key =
      row.part === 'grant'
        ? typeof row.payload.jti === 'string'
          ? grantKey(row.payload.jti)
          : undefined
        : typeof row.payload.uid === 'string'
          ? sessionKey(row.payload.uid)
          : undefined;
    if (key) remember(key, { payload: row.payload, consumed_at: row.consumed_at });
  }
}

/**
 * Models the provider looks up together by one token value: introspection and revocation ask for
 * AccessToken, ClientCredentials and (without a hint) RefreshToken at once. The store answers
 * their finds for the same value in the same tick with one query instead of one each.
 */
const TOKEN_MODELS = new Set(['AccessToken', 'ClientCredentials', 'RefreshToken']);

/** Models redeemed at the token endpoint for tokens of a grant: presenting one twice is reuse. */
const GRANT_SOURCES = new Set([
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

/**
 * Lifetime of a replay-detection row from its claim (find). The save that follows sets the real
 * lifetime (the assertion's or proof's exp); when that is not longer than the claim's, the row
 * already protects long enough and the save is skipped: one statement per check instead of two.
 */
const REPLAY_CLAIM_SECONDS = 300;

export interface AdapterDeps {
  artifacts: ArtifactStore;
  clock: Clock;
}

export function createArtifactAdapter({ artifacts, clock }: AdapterDeps) {
  const seconds = () => Math.floor(clock.now() / 1000);

  /** Replay-detection ids claimed by this instance, until when (epoch seconds), awaiting save. */
  const claimedUntil = new Map<string, number>();

  /**
   * A consumed code or refresh token presented again while the legitimate request was still
   * running (the provider found it unconsumed, and lost the consume to that request): revoke the
   * grant as the provider does when it finds the artefact already consumed, and tell the
   * provider's listeners the same way (the grant.revoked event, on the token request).
   */
  async function revokeReused(model: string, key: string): Promise<void> {
    const grantId = await artifacts.revokeReusedGrant(model, key);
    if (!grantId) return;
    const ctx = (Provider as { ctx?: { oidc?: { provider?: Provider } } }).ctx;
    ctx?.oidc?.provider?.emit('grant.revoked', ctx, grantId);
  }

  return class ArtifactAdapter {
    readonly model: string;
    readonly hashed: boolean;

    constructor(model: string) {
      this.model = model;
      this.hashed = HASHED_MODELS.has(model);
    }

    key(id: string): string {
      return this.hashed ? hashId(id) : id;
    }

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      if (this.model === 'ReplayDetection') {
        const until = claimedUntil.get(id);
        claimedUntil.delete(id);
        if (until !== undefined && typeof expiresIn === 'number' && seconds() + expiresIn <= until)
          return;
      }
      const text = (value: unknown) => (typeof value === 'string' ? value : null);
      await artifacts.upsert(
        {
          model: this.model,
          key: this.key(id),
          payload: toStored(this.model, id, payload),
          grantId: text(payload.grantId),
          sessionUid: this.model === 'Session' ? text(payload.uid) : null,
          userCode: typeof payload.userCode === 'string' ? hashId(payload.userCode) : null,
          accountId: text(payload.accountId),
          clientId: text(payload.clientId),
          expiresAt:
            typeof expiresIn === 'number' ? new Date(clock.now() + expiresIn * 1000) : null,
        },
        // Held back in a request, the row reads as the provider knew it: consumed or not.
        typeof payload.consumed === 'number' ? new Date(payload.consumed * 1000) : null,
      );
    }

    async find(id: string): Promise<Payload | undefined> {
      if (this.model === 'ReplayDetection') return this.claim(id);
      if (TOKEN_MODELS.has(this.model) || this.model === 'AuthorizationCode') {
        const { row, companions } =
          this.model === 'AuthorizationCode'
            ? await artifacts.findCode(this.key(id))
            : await artifacts.findToken(this.model, this.key(id));
        if (!row) return undefined;
        rememberCompanions(companions);
        return fromStored(this.model, id, row.payload, row.consumed_at);
      }
      const ahead = this.model === 'Grant' ? recall(grantKey(id)) : undefined;
      const row = ahead ?? (await artifacts.find(this.model, this.key(id)));
      return row ? fromStored(this.model, id, row.payload, row.consumed_at) : undefined;
    }

    /**
     * Replay detection: oidc-provider asks find(id) and saves when nothing is found. Doing the
     * insert here makes the check-and-set one statement, so of two instances that see the same
     * DPoP proof or client assertion jti at once, exactly one is told it is new.
     */
    private async claim(id: string): Promise<Payload | undefined> {
      const now = seconds();
      const provisional = { iat: now, exp: now + REPLAY_CLAIM_SECONDS, kind: 'ReplayDetection' };
      const until = now + REPLAY_CLAIM_SECONDS;
      if (await artifacts.claimReplay(id, provisional, new Date(until * 1000))) {
        // Bounded: an entry whose save never came (an error in between) must not pile up.
        if (claimedUntil.size >= 10_000) claimedUntil.clear();
        claimedUntil.set(id, until);
        return undefined;
      }
      const row = await artifacts.findReplay(id);
      return { ...(row?.payload ?? provisional), jti: id };
    }

    async findByUid(uid: string): Promise<Payload | undefined> {
      // The session id is not stored, so the provider gets the session without it; it only reads
      // such a session (to check it still exists), never saves it.
      const row = recall(sessionKey(uid)) ?? (await artifacts.findSessionByUid(uid));
      return row ? fromStored(this.model, undefined, row.payload, row.consumed_at) : undefined;
    }

    async findByUserCode(userCode: string): Promise<Payload | undefined> {
      const row = await artifacts.findByUserCode(this.model, hashId(userCode));
      // The device code itself is not stored: hand back a reference the adapter understands.
      return row
        ? fromStored(this.model, `${HASH_REF}${row.id}`, row.payload, row.consumed_at)
        : undefined;
    }

    async consume(id: string): Promise<void> {
      if (await artifacts.consume(this.model, this.key(id))) return;
      if (this.model === 'PushedAuthorizationRequest') {
        throw new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used');
      }
      // Lost to a simultaneous redemption: that is reuse too (RFC 9700 section 4.14.2).
      if (GRANT_SOURCES.has(this.model)) await revokeReused(this.model, this.key(id));
      throw new errors.InvalidGrant(
        `${this.model === 'AuthorizationCode' ? 'authorization code' : 'grant'} already used`,
      );
    }

    async destroy(id: string): Promise<void> {
      await artifacts.destroy(this.model, this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await artifacts.revokeByGrantId(this.model, grantId);
    }
  };
}
