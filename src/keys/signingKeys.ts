// The signing-key ring: generates keys, stages rotations, revokes keys and tells which key signs
// now. State is derived from timestamps in the database, so every instance agrees without
// talking; a change is also announced (LISTEN/NOTIFY) so instances need not wait for their poll.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import type { SigningAlg } from '../config.ts';
import { conflict, notFound } from '../errors.ts';
import type { Sealer } from './envelope.ts';
import { createSigningKeyStore, type SigningKeyRow } from './store.ts';

export interface SigningKey {
  kid: string;
  alg: string;
  createdAt: Date;
  activatesAt: Date;
  retiresAt: Date | null;
  revokedAt: Date | null;
}

export type KeyStatus = 'active' | 'staged' | 'previous' | 'retired' | 'revoked';

/** What the provider needs: private JWKs, the signing key first, and a fingerprint of the set. */
export interface KeyRing {
  activeKid: string;
  jwks: JWK[];
  fingerprint: string;
}

export interface SigningKeysOptions {
  knex: Knex;
  sealer: Sealer;
  clock: Clock;
  alg: SigningAlg;
  activationDelaySeconds: number;
  /** Longest lifetime of anything signed (ID tokens, JWT access tokens), in seconds. */
  maxSignedTokenLifetime: () => Promise<number>;
}

const sealContext = (kid: string) => `signing_keys:${kid}`;

async function generate(
  alg: SigningAlg,
): Promise<{ kid: string; publicJwk: JWK; privateJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const meta = { kid, alg, use: 'sig' };
  return {
    kid,
    publicJwk: { ...publicJwk, ...meta },
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
  };
}

export function keyStatus(
  key: Pick<SigningKey, 'kid' | 'activatesAt' | 'retiresAt' | 'revokedAt'>,
  activeKid: string | undefined,
  now: number,
): KeyStatus {
  if (key.revokedAt) return 'revoked';
  if (key.retiresAt && key.retiresAt.getTime() <= now) return 'retired';
  if (key.kid === activeKid) return 'active';
  if (key.activatesAt.getTime() > now) return 'staged';
  return 'previous';
}

/** The newest key of `alg` whose activation time has passed. Rows come newest first. */
function pickActive(rows: SigningKeyRow[], alg: string, now: number): SigningKeyRow | undefined {
  return rows.find(
    (r) =>
      r.alg === alg &&
      !r.revoked_at &&
      r.activates_at.getTime() <= now &&
      (!r.retires_at || r.retires_at.getTime() > now),
  );
}

export function createSigningKeys(options: SigningKeysOptions) {
  const { knex, sealer, clock, alg } = options;
  const store = createSigningKeyStore(knex);

  async function insertNew(db: Knex, activatesAt: Date): Promise<SigningKey> {
    const { kid, publicJwk, privateJwk } = await generate(alg);
    const row: SigningKeyRow = {
      kid,
      alg,
      public_jwk: publicJwk as Record<string, unknown>,
      private_jwk_sealed: sealer.seal(JSON.stringify(privateJwk), sealContext(kid)),
      created_at: new Date(clock.now()),
      activates_at: activatesAt,
      retires_at: null,
      revoked_at: null,
    };
    await store.insert(db, row);
    return toKey(row);
  }

  /**
   * A new key signing from `activatesAt`; every other key still without a retirement time
   * retires once everything it may have signed has expired.
   */
  async function stageNew(
    trx: Knex.Transaction,
    activatesAt: Date,
    lifetime: number,
  ): Promise<{ key: SigningKey; retiresPreviousAt: Date }> {
    const key = await insertNew(trx, activatesAt);
    const retiresPreviousAt = new Date(activatesAt.getTime() + lifetime * 1000);
    await store.scheduleRetirement(trx, key.kid, retiresPreviousAt);
    return { key, retiresPreviousAt };
  }

  const withStatus = (key: SigningKey, activeKid: string | undefined, now: number) => ({
    ...key,
    status: keyStatus(key, activeKid, now),
  });

  return {
    /** Makes sure a key of the configured algorithm signs now; creates one on first start. */
    async ensureActiveKey(): Promise<{ created: SigningKey | undefined }> {
      const now = clock.now();
      if (pickActive(await store.published(new Date(now)), alg, now)) return { created: undefined };
      return knex.transaction(async (trx) => {
        await store.lock(trx);
        if (pickActive(await store.all(trx), alg, now)) return { created: undefined };
        const created = await insertNew(trx, new Date(now));
        await store.notifyChange(trx, `created:${created.kid}`);
        return { created };
      });
    },

    /**
     * Stages a new key: published at once, signing after the activation delay (or now when
     * `immediately`, for a compromised key). Older keys stay published until every token they
     * signed has expired.
     */
    async rotate({ immediately = false }: { immediately?: boolean } = {}): Promise<{
      key: SigningKey;
      retiresPreviousAt: Date;
    }> {
      const delay = immediately ? 0 : options.activationDelaySeconds;
      const lifetime = await options.maxSignedTokenLifetime();
      return knex.transaction(async (trx) => {
        await store.lock(trx);
        const staged = await stageNew(trx, new Date(clock.now() + delay * 1000), lifetime);
        await store.notifyChange(trx, `staged:${staged.key.kid}`);
        return staged;
      });
    },

    /**
     * Revokes a key (compromised): unpublished and untrusted at once, on every instance that
     * hears the notice. When it was the signing key, a new key signs from now on (the server is
     * never without one) and the others retire as after `rotate --now`. When it was a staged
     * key, the signing key it was to replace keeps signing (its retirement is called off).
     */
    async revoke(kid: string): Promise<{
      key: SigningKey & { status: KeyStatus };
      wasActive: boolean;
      replacement: (SigningKey & { status: KeyStatus }) | undefined;
    }> {
      const lifetime = await options.maxSignedTokenLifetime();
      return knex.transaction(async (trx) => {
        await store.lock(trx);
        const now = clock.now();
        const rows = await store.all(trx);
        const row = rows.find((r) => r.kid === kid);
        if (!row) throw notFound(`there is no signing key with kid "${kid}"`);
        if (row.revoked_at) throw conflict(`the signing key ${kid} is already revoked`);
        const wasActive = pickActive(rows, alg, now)?.kid === kid;
        row.revoked_at = new Date(now);
        await store.markRevoked(trx, kid, row.revoked_at);

        let replacement: SigningKey | undefined;
        const active = pickActive(rows, alg, now);
        if (wasActive || !active) {
          replacement = (await stageNew(trx, new Date(now), lifetime)).key;
        } else if (active.retires_at) {
          const successor = rows.some(
            (r) =>
              !r.revoked_at &&
              r.alg === alg &&
              r.activates_at.getTime() > active.activates_at.getTime() &&
              (!r.retires_at || r.retires_at.getTime() > r.activates_at.getTime()),
          );
          if (!successor) await store.clearRetirement(trx, active.kid);
        }
        await store.notifyChange(trx, `revoked:${kid}`);
        const activeKid = replacement?.kid ?? active?.kid;
        return {
          key: withStatus(toKey(row), activeKid, now),
          wasActive,
          replacement: replacement && withStatus(replacement, activeKid, now),
        };
      });
    },

    async list(): Promise<(SigningKey & { status: KeyStatus })[]> {
      const now = clock.now();
      const rows = await store.all();
      const activeKid = pickActive(rows, alg, now)?.kid;
      return rows.map((r) => withStatus(toKey(r), activeKid, now));
    },

    /** The ring the provider signs and publishes with, or undefined when no key is active. */
    async loadRing(): Promise<KeyRing | undefined> {
      const now = clock.now();
      const rows = await store.published(new Date(now));
      const active = pickActive(rows, alg, now);
      if (!active) return undefined;
      const ordered = [active, ...rows.filter((r) => r.kid !== active.kid)];
      const jwks = ordered.map(
        (r) => JSON.parse(sealer.openString(r.private_jwk_sealed, sealContext(r.kid))) as JWK,
      );
      return { activeKid: active.kid, jwks, fingerprint: ordered.map((r) => r.kid).join(',') };
    },

    /** Moves every sealed private key to the newest ENCRYPTION_KEYS entry; returns how many moved. */
    async reencrypt(): Promise<number> {
      let moved = 0;
      for (const row of await store.all()) {
        if (sealer.keyIdOf(row.private_jwk_sealed) === sealer.activeKeyId) continue;
        await store.updateSealed(knex, row.kid, sealer.rewrap(row.private_jwk_sealed));
        moved++;
      }
      return moved;
    },
  };
}

function toKey(r: SigningKeyRow): SigningKey {
  return {
    kid: r.kid,
    alg: r.alg,
    createdAt: r.created_at,
    activatesAt: r.activates_at,
    retiresAt: r.retires_at,
    revokedAt: r.revoked_at,
  };
}

export type SigningKeys = ReturnType<typeof createSigningKeys>;
