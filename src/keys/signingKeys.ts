// The signing-key ring: generates keys, stages rotations, revokes keys and tells which key signs
// now, one signing key per configured algorithm (src/keys/algorithms.ts), each rotated alone.
// State is derived from timestamps in the database, so every instance agrees without talking;
// a change is also announced (LISTEN/NOTIFY) so instances need not wait for their poll.
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import { conflict, invalid, notFound } from '../errors.ts';
import type { RingAlg } from './algorithms.ts';
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

/**
 * What the provider needs: private JWKs, the signing key of each algorithm before any other key
 * of that algorithm (the provider signs with the first match), the default algorithm's first.
 */
export interface KeyRing {
  /** The signing key of the default algorithm. */
  activeKid: string;
  jwks: JWK[];
  fingerprint: string;
}

export interface SigningKeysOptions {
  knex: Knex;
  sealer: Sealer;
  clock: Clock;
  /** The algorithms of the ring, the default first (config.keys.algs). */
  algs: readonly RingAlg[];
  activationDelaySeconds: number;
  /** Longest lifetime of anything signed (ID tokens, JWT access tokens), in seconds. */
  maxSignedTokenLifetime: () => Promise<number>;
}

const sealContext = (kid: string) => `signing_keys:${kid}`;

async function generate(alg: RingAlg): Promise<{ kid: string; publicJwk: JWK; privateJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg.startsWith('RS') || alg.startsWith('PS') ? { modulusLength: 2048 } : {}),
  });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const meta = { kid, alg, use: 'sig' };
  return {
    kid,
    publicJwk: { ...publicJwk, ...meta },
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
  };
}

/** A key's status; `activeKids` holds the signing key of each algorithm. */
export function keyStatus(
  key: Pick<SigningKey, 'kid' | 'activatesAt' | 'retiresAt' | 'revokedAt'>,
  activeKids: ReadonlySet<string>,
  now: number,
): KeyStatus {
  if (key.revokedAt) return 'revoked';
  if (key.retiresAt && key.retiresAt.getTime() <= now) return 'retired';
  if (activeKids.has(key.kid)) return 'active';
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

/** The signing key of each algorithm among `rows` at `now`. */
function activeByAlg(rows: SigningKeyRow[], algs: readonly string[], now: number) {
  const active = new Map<string, SigningKeyRow>();
  for (const alg of algs) {
    const row = pickActive(rows, alg, now);
    if (row) active.set(alg, row);
  }
  return active;
}

const kidsOf = (active: Map<string, SigningKeyRow>) =>
  new Set([...active.values()].map((r) => r.kid));

export function createSigningKeys(options: SigningKeysOptions) {
  const { knex, sealer, clock, algs } = options;
  if (algs.length === 0) throw new Error('the key ring needs at least one algorithm');
  const store = createSigningKeyStore(knex);

  /** An algorithm named by an administrator: one of the ring's (the default when absent). */
  function ringAlg(alg: string | undefined): RingAlg {
    if (alg === undefined) return algs[0]!;
    const found = algs.find((a) => a === alg);
    if (!found)
      throw invalid(`alg must be one of the ring's algorithms: ${algs.join(', ')}`, 'alg');
    return found;
  }

  async function insertNew(db: Knex, alg: RingAlg, activatesAt: Date): Promise<SigningKey> {
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
   * A new key of `alg` signing from `activatesAt`; every other key of that algorithm still
   * without a retirement time retires once everything it may have signed has expired.
   */
  async function stageNew(
    trx: Knex.Transaction,
    alg: RingAlg,
    activatesAt: Date,
    lifetime: number,
  ): Promise<{ key: SigningKey; retiresPreviousAt: Date }> {
    const key = await insertNew(trx, alg, activatesAt);
    const retiresPreviousAt = new Date(activatesAt.getTime() + lifetime * 1000);
    await store.scheduleRetirement(trx, alg, key.kid, retiresPreviousAt);
    return { key, retiresPreviousAt };
  }

  const withStatus = (key: SigningKey, activeKids: ReadonlySet<string>, now: number) => ({
    ...key,
    status: keyStatus(key, activeKids, now),
  });

  return {
    /** The algorithms of the ring, the default first. */
    algs,

    /**
     * Makes sure a key of each configured algorithm signs now; creates the missing ones (all of
     * them on first start, one when an algorithm is added to SIGNING_ALGS).
     */
    async ensureActiveKey(): Promise<{ created: SigningKey[] }> {
      const now = clock.now();
      const missing = (rows: SigningKeyRow[]) => {
        const active = activeByAlg(rows, algs, now);
        return algs.filter((a) => !active.has(a));
      };
      if (missing(await store.published(new Date(now))).length === 0) return { created: [] };
      return knex.transaction(async (trx) => {
        await store.lock(trx);
        const created: SigningKey[] = [];
        for (const alg of missing(await store.all(trx))) {
          const key = await insertNew(trx, alg, new Date(now));
          await store.notifyChange(trx, `created:${key.kid}`);
          created.push(key);
        }
        return { created };
      });
    },

    /**
     * Stages a new key: published at once, signing after the activation delay (or now when
     * `immediately`, for a compromised key). Older keys stay published until every token they
     * signed has expired.
     */
    async rotate({
      immediately = false,
      alg: named,
    }: {
      immediately?: boolean;
      /** The algorithm whose key is replaced; the default one when absent. */
      alg?: string | undefined;
    } = {}): Promise<{
      key: SigningKey;
      retiresPreviousAt: Date;
    }> {
      const alg = ringAlg(named);
      const delay = immediately ? 0 : options.activationDelaySeconds;
      const lifetime = await options.maxSignedTokenLifetime();
      return knex.transaction(async (trx) => {
        await store.lock(trx);
        const staged = await stageNew(trx, alg, new Date(clock.now() + delay * 1000), lifetime);
        await store.notifyChange(trx, `staged:${staged.key.kid}`);
        return staged;
      });
    },

    /**
     * Revokes a key (compromised): unpublished and untrusted at once, on every instance that
     * hears the notice. When it was the signing key of its algorithm, a new key of it signs from now on (the server is
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
        const alg = row.alg as RingAlg;
        const wasActive = pickActive(rows, alg, now)?.kid === kid;
        row.revoked_at = new Date(now);
        await store.markRevoked(trx, kid, row.revoked_at);

        let replacement: SigningKey | undefined;
        const active = pickActive(rows, alg, now);
        // A key of an algorithm no longer configured is not replaced.
        if ((wasActive || !active) && algs.includes(alg)) {
          replacement = (await stageNew(trx, alg, new Date(now), lifetime)).key;
        } else if (active?.retires_at) {
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
        const activeKids = kidsOf(activeByAlg(rows, algs, now));
        if (replacement) activeKids.add(replacement.kid);
        return {
          key: withStatus(toKey(row), activeKids, now),
          wasActive,
          replacement: replacement && withStatus(replacement, activeKids, now),
        };
      });
    },

    async list(): Promise<(SigningKey & { status: KeyStatus })[]> {
      const now = clock.now();
      const rows = await store.all();
      const activeKids = kidsOf(activeByAlg(rows, algs, now));
      return rows.map((r) => withStatus(toKey(r), activeKids, now));
    },

    /**
     * The ring the provider signs and publishes with, or undefined when an algorithm of the ring
     * has no active key (ensureActiveKey creates it).
     */
    async loadRing(): Promise<KeyRing | undefined> {
      const now = clock.now();
      const rows = await store.published(new Date(now));
      const active = activeByAlg(rows, algs, now);
      if (active.size < algs.length) return undefined;
      const signing = algs.map((a) => active.get(a)!);
      const kids = kidsOf(active);
      const ordered = [...signing, ...rows.filter((r) => !kids.has(r.kid))];
      const jwks = ordered.map(
        (r) => JSON.parse(sealer.openString(r.private_jwk_sealed, sealContext(r.kid))) as JWK,
      );
      return {
        activeKid: signing[0]!.kid,
        jwks,
        fingerprint: ordered.map((r) => r.kid).join(','),
      };
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
