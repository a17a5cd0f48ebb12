// Backchannel authentication requests (CIBA) as a person sees them: a pending approval on their
// account page (client, binding message, the level its approval needs), approved or denied once.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { notFound } from '../errors.ts';
import type { Sealer } from '../keys/envelope.ts';
import type { ApprovalRow, ApprovalStore } from './store.ts';

/** Failed second factors after which a pending approval is denied. */
export const MAX_APPROVAL_FAILURES = 5;
/**
 * Approvals one client may have waiting for one person: more is refused, so a client cannot flood
 * a person with requests until one is approved by mistake (MFA fatigue).
 */
export const MAX_PENDING_PER_CLIENT = 3;
/** Longest binding message, in characters (shown on a phone, and in a mail subject line). */
export const BINDING_MESSAGE_MAX = 64;
// Letters and digits of any script, spaces and common punctuation; no control or format characters.
const BINDING_MESSAGE = /^[\p{L}\p{N} .,:;!?#'’()+\-/_&@*€$£%]+$/u;

/**
 * The binding message's problem, if any: at most BINDING_MESSAGE_MAX characters of letters,
 * digits, spaces and common punctuation, not blank.
 */
export function bindingMessageProblem(message: string | undefined): string | undefined {
  if (message === undefined) return undefined;
  if (!message.trim()) return 'binding_message must not be blank';
  if ([...message].length > BINDING_MESSAGE_MAX)
    return `binding_message must be at most ${BINDING_MESSAGE_MAX} characters`;
  if (!BINDING_MESSAGE.test(message))
    return 'binding_message may use letters, digits, spaces and common punctuation only';
  return undefined;
}

export interface Approval {
  id: string;
  clientId: string;
  clientName: string;
  accountId: string;
  bindingMessage: string | undefined;
  scopes: string[];
  requiredLevel: 2 | 3;
  createdAt: Date;
  expiresAt: Date;
}

/** A decided approval, with the auth_req_id it completes (never logged or shown). */
export interface Decided extends Approval {
  authReqId: string;
  status: 'approved' | 'denied';
}

export interface NewApproval {
  clientId: string;
  clientName: string;
  accountId: string;
  authReqId: string;
  bindingMessage: string | undefined;
  scope: string;
  /** The level the request needs; an approval always needs a second factor (level 2 at least). */
  level: number;
  expiresAt: Date;
}

const sealContext = (id: string) => `ciba_approvals:${id}:auth_req_id`;

const toApproval = (r: ApprovalRow): Approval => ({
  id: r.id,
  clientId: r.client_id,
  clientName: r.client_name,
  accountId: r.account_id,
  bindingMessage: r.binding_message ?? undefined,
  scopes: r.scope.split(' ').filter(Boolean),
  requiredLevel: r.required_level >= 3 ? 3 : 2,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

export function createApprovals({
  store,
  sealer,
  clock,
}: {
  store: ApprovalStore;
  sealer: Sealer;
  clock: Clock;
}) {
  const now = () => new Date(clock.now());
  return {
    /** Records a pending approval; returns it. */
    async request(input: NewApproval): Promise<Approval> {
      const id = randomUUID();
      const row: ApprovalRow = {
        id,
        client_id: input.clientId,
        client_name: input.clientName,
        account_id: input.accountId,
        auth_req_sealed: sealer.seal(input.authReqId, sealContext(id)),
        binding_message: input.bindingMessage ?? null,
        scope: input.scope,
        required_level: Math.max(2, Math.min(3, input.level)),
        status: 'pending',
        failures: 0,
        created_at: now(),
        expires_at: input.expiresAt,
        decided_at: null,
      };
      await store.insert(row);
      return toApproval(row);
    },

    /** Whether the client may ask the person for one more approval now. */
    mayRequest: async (accountId: string, clientId: string): Promise<boolean> =>
      (await store.pendingCount(accountId, clientId, now())) < MAX_PENDING_PER_CLIENT,

    /** The person's approvals still waiting, oldest first. */
    pending: async (accountId: string): Promise<Approval[]> =>
      (await store.pendingOf(accountId, now())).map(toApproval),

    /** One of the person's pending approvals; throws not_found when gone, decided or expired. */
    async get(id: string, accountId: string): Promise<Approval> {
      const row = await store.pending(id, accountId, now());
      if (!row) throw notFound('this request is no longer waiting for you');
      return toApproval(row);
    },

    /**
     * Decides a pending approval (the caller has checked the second factor for an approval);
     * undefined when it was decided meanwhile or has expired.
     */
    async decide(
      id: string,
      accountId: string,
      status: 'approved' | 'denied',
    ): Promise<Decided | undefined> {
      const row = await store.decide(id, accountId, status, now());
      if (!row) return undefined;
      return {
        ...toApproval(row),
        status,
        authReqId: sealer.openString(row.auth_req_sealed, sealContext(row.id)),
      };
    },

    /**
     * Counts a failed second factor. At MAX_APPROVAL_FAILURES the approval is denied (returned,
     * to complete the request with access_denied); otherwise undefined.
     */
    async failed(id: string, accountId: string): Promise<Decided | undefined> {
      const failures = await store.fail(id, accountId);
      if (failures < MAX_APPROVAL_FAILURES) return undefined;
      return this.decide(id, accountId, 'denied');
    },

    /** Deletes approvals that expired more than a day ago. */
    sweep: (): Promise<number> => store.sweep(new Date(clock.now() - 24 * 3600 * 1000)),
  };
}

export type Approvals = ReturnType<typeof createApprovals>;
