// A login between its factors: who has proven what so far, keyed by the hash of the interaction
// id (oidc-provider's Interaction keeps no custom state). Expires with the interaction.
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { StatementPart } from '../db/together.ts';
import type { Level } from './assurance.ts';
import { type FactorSummary, toSummary } from './factors.ts';
import type { MfaStore, ProgressRow } from './store.ts';

export interface Progress {
  userId: string;
  amr: string[];
  level: Level | 0;
  /**
   * Points this login's successful steps took from its source address's failure limit, given
   * back when the sign-in completes (0 when absent).
   */
  addressPoints?: number;
}

const TTL_MS = 30 * 60 * 1000;
const key = (interactionUid: string) =>
  createHash('sha256').update(interactionUid).digest('base64url');

const fromRow = (row: ProgressRow): Progress => ({
  userId: row.user_id,
  amr: row.amr,
  level: row.level as Level | 0,
  addressPoints: row.address_points,
});

export function createLoginProgress({ store, clock }: { store: MfaStore; clock: Clock }) {
  return {
    /** Saves where the login stands, in one statement with `alongside` (src/db/together.ts). */
    async save(
      interactionUid: string,
      p: Progress,
      alongside: readonly StatementPart[] = [],
    ): Promise<void> {
      await store.saveProgress(
        {
          interaction_hash: key(interactionUid),
          user_id: p.userId,
          amr: [...new Set(p.amr)],
          level: p.level,
          address_points: p.addressPoints ?? 0,
          expires_at: new Date(clock.now() + TTL_MS),
        },
        alongside,
      );
    },
    /** Where a login stands, with the factors of the person signing in, in one statement. */
    async getWithFactors(
      interactionUid: string,
    ): Promise<{ progress: Progress; factors: FactorSummary } | undefined> {
      const found = await store.progressWithFactors(key(interactionUid), new Date(clock.now()));
      return found && { progress: fromRow(found.progress), factors: toSummary(found.factors) };
    },
    clear: (interactionUid: string) => store.clearProgress(key(interactionUid)),
    /** `clear` as a part of the statement that completes the sign-in (src/db/together.ts). */
    clearPart: (interactionUid: string) => store.clearProgressPart(key(interactionUid)),
    sweep: () => store.sweep(new Date(clock.now())),
  };
}

export type LoginProgress = ReturnType<typeof createLoginProgress>;
