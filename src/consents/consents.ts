// Consent records of rich authorization requests and their lifecycle: opened when the page
// shows the details, authorised with the grant, rejected, consumed once by the API that executes
// a payment, revoked by the person or an administrator, expired by time (the injected clock).
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { DomainError, notFound } from '../errors.ts';
import { canonicalHash } from './canonical.ts';
import { type AuthorizationDetail, validateAuthorizationDetails } from './detailTypes.ts';
import type { ConsentRow, ConsentStore } from './store.ts';

export type ConsentStatus =
  | 'awaiting_authorisation'
  | 'authorised'
  | 'rejected'
  | 'consumed'
  | 'revoked'
  | 'expired';

/** Every status, in lifecycle order (for validation of filters and documentation). */
export const CONSENT_STATUSES = [
  'awaiting_authorisation',
  'authorised',
  'rejected',
  'consumed',
  'revoked',
  'expired',
] as const satisfies readonly ConsentStatus[];

export interface Consent {
  id: string;
  clientId: string;
  accountId: string;
  grantId: string | null;
  details: AuthorizationDetail[];
  types: string[];
  canonicalHash: string;
  /** Effective: an authorised consent past expiresAt reads 'expired'. */
  status: ConsentStatus;
  createdAt: Date;
  authorisedAt: Date | null;
  expiresAt: Date | null;
  consumedAt: Date | null;
  consumedBy: string | null;
  revokedAt: Date | null;
  /** Who revoked it: 'user:<account id>' or 'admin:<id>'. */
  revokedBy: string | null;
}

/**
 * The consent is not in a state that allows the change. `status` is its (effective) status;
 * `reason` says 'not_consumable' for an account-access consent, which is used many times.
 */
export class ConsentStateError extends DomainError {
  constructor(
    readonly status: ConsentStatus,
    message: string,
    readonly reason: 'state' | 'not_consumable' = 'state',
  ) {
    super('conflict', message);
    this.name = 'ConsentStateError';
  }
}

export const PAYMENT_TYPE = 'payment_initiation';
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 500;

const newId = () => `cns_${randomBytes(16).toString('base64url')}`;

function toConsent(row: ConsentRow, now: number): Consent {
  const expired =
    row.status === 'authorised' && row.expires_at !== null && row.expires_at.getTime() <= now;
  return {
    id: row.id,
    clientId: row.client_id,
    accountId: row.account_id,
    grantId: row.grant_id,
    details: row.details,
    types: row.types,
    canonicalHash: row.canonical_hash,
    status: expired ? 'expired' : row.status,
    createdAt: row.created_at,
    authorisedAt: row.authorised_at,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
    consumedBy: row.consumed_by,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
  };
}

const DESCRIBED: Record<ConsentStatus, string> = {
  awaiting_authorisation: 'is not authorised yet',
  authorised: 'is authorised',
  rejected: 'was rejected',
  consumed: 'is already consumed',
  revoked: 'was revoked',
  expired: 'has expired',
};

const stateError = (c: Consent) =>
  new ConsentStateError(c.status, `the consent ${DESCRIBED[c.status]}`);

/**
 * When an authorised consent expires: a payment waits at most `paymentTtlSeconds` to be executed;
 * account access ends at the earliest expirationDateTime it names.
 */
function expiryOf(details: AuthorizationDetail[], now: number, paymentTtlSeconds: number) {
  const ends: number[] = [];
  for (const d of details) {
    if (d.type === PAYMENT_TYPE) ends.push(now + paymentTtlSeconds * 1000);
    else if (typeof d.expirationDateTime === 'string') ends.push(Date.parse(d.expirationDateTime));
  }
  return ends.length ? new Date(Math.min(...ends)) : null;
}

export function createConsents(deps: {
  store: ConsentStore;
  clock: Clock;
  paymentTtlSeconds: number;
}) {
  const { store, clock, paymentTtlSeconds } = deps;
  const read = (row: ConsentRow) => toConsent(row, clock.now());

  /** The consent as it is now, for a caller allowed to see it (a person sees only theirs). */
  async function existing(id: string, accountId?: string): Promise<Consent> {
    const row = await store.find(id);
    if (!row || (accountId !== undefined && row.account_id !== accountId))
      throw notFound('no such consent');
    return read(row);
  }

  return {
    /**
     * The consent page is shown: a consent awaiting authorisation for this interaction (the same
     * one again for the same interaction and details).
     */
    async open(input: {
      clientId: string;
      accountId: string;
      interactionUid: string;
      details: AuthorizationDetail[];
    }): Promise<Consent> {
      const now = new Date(clock.now());
      const details = validateAuthorizationDetails(input.details, now);
      const row = await store.openOrFind({
        id: newId(),
        client_id: input.clientId,
        account_id: input.accountId,
        grant_id: null,
        interaction_uid: input.interactionUid,
        details,
        types: [...new Set(details.map((d) => d.type))].sort(),
        canonical_hash: canonicalHash(details),
        status: 'awaiting_authorisation',
        created_at: now,
        updated_at: now,
        authorised_at: null,
        expires_at: null,
        consumed_at: null,
        consumed_by: null,
        revoked_at: null,
        revoked_by: null,
      });
      if (row.account_id !== input.accountId || row.client_id !== input.clientId)
        throw new ConsentStateError(
          'awaiting_authorisation',
          'this interaction already has a consent of another person or client',
        );
      return read(row);
    },

    /** awaiting_authorisation -> authorised, with the grant that carries it (sets expiresAt). */
    async authorise(id: string, input: { grantId: string; accountId: string }): Promise<Consent> {
      const found = await existing(id, input.accountId);
      const now = clock.now();
      const row = await store.authorise(id, {
        accountId: input.accountId,
        grantId: input.grantId,
        now: new Date(now),
        expiresAt: expiryOf(found.details, now, paymentTtlSeconds),
      });
      if (row) return read(row);
      const current = await existing(id, input.accountId);
      if (current.status === 'authorised' && current.grantId === input.grantId) return current;
      throw stateError(current);
    },

    /** awaiting_authorisation -> rejected (the person refused). */
    async reject(id: string, accountId: string): Promise<Consent> {
      const row = await store.reject(id, accountId, new Date(clock.now()));
      if (row) return read(row);
      const current = await existing(id, accountId);
      if (current.status === 'rejected') return current;
      throw stateError(current);
    },

    /**
     * authorised -> consumed, in one atomic UPDATE (authorised, not expired, a payment). The same
     * caller again gets the consumed consent (idempotent); anyone else a ConsentStateError.
     */
    async consume(id: string, by: string): Promise<Consent> {
      const row = await store.consume(id, by, new Date(clock.now()));
      if (row) return read(row);
      const current = await existing(id);
      if (current.status === 'consumed' && current.consumedBy === by) return current;
      if (current.status === 'authorised' && !current.types.includes(PAYMENT_TYPE))
        throw new ConsentStateError(
          current.status,
          'an account-access consent is used as long as it is authorised: only a payment consent is consumed',
          'not_consumable',
        );
      throw stateError(current);
    },

    /**
     * authorised -> revoked, by the person (only their own: `accountId`) or an administrator.
     * Revoking a revoked consent again returns it.
     */
    async revoke(
      id: string,
      by: { type: 'user' | 'admin'; id: string },
      accountId?: string,
    ): Promise<Consent> {
      const row = await store.revoke(id, `${by.type}:${by.id}`, accountId, new Date(clock.now()));
      if (row) return read(row);
      const current = await existing(id, accountId);
      if (current.status === 'revoked') return current;
      throw stateError(current);
    },

    async find(id: string): Promise<Consent | undefined> {
      const row = await store.find(id);
      return row ? read(row) : undefined;
    },

    async findByGrant(grantId: string): Promise<Consent | undefined> {
      const row = await store.findByGrant(grantId);
      return row ? read(row) : undefined;
    },

    /** Newest first; at most `limit` (default 100, at most 500). */
    async list(filter: {
      accountId?: string;
      clientId?: string;
      status?: ConsentStatus;
      limit?: number;
    }): Promise<Consent[]> {
      const asked = Number.isFinite(filter.limit) ? Math.trunc(filter.limit!) : DEFAULT_LIST_LIMIT;
      const limit = Math.min(Math.max(1, asked), MAX_LIST_LIMIT);
      const now = clock.now();
      const rows = await store.list({ ...filter, limit }, new Date(now));
      return rows.map((r) => toConsent(r, now));
    },

    /** Marks authorised consents past their expiry 'expired' (a background sweep). */
    expireDue: (batchSize = 1000) => store.markExpired(new Date(clock.now()), batchSize),
  };
}

export type Consents = ReturnType<typeof createConsents>;
