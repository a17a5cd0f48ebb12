// The assurance a login must reach: the highest of the client's minimum, the global switch, the
// level the client asks for (acr_values or an essential acr claim) and the levels the requested
// API scopes need. Pure functions, shared by the protocol check and the login pages.
import type { Assurance, Level } from './assurance.ts';

export interface LevelRequest {
  clientMinimum: number;
  requireMfa: boolean;
  /** acr_values of the request (space-separated in the request). */
  acrValues: string[];
  /** Values of an essential acr claim (claims parameter), if any. */
  essentialAcrs: string[];
  /** Required level of every API scope the request asks for. */
  scopeLevels: number[];
}

export interface LevelDecision {
  level: Level;
  /** An essential acr was asked for and Portcullis offers none of the values. */
  unmet: boolean;
}

const clamp = (n: number): Level => (n >= 3 ? 3 : n <= 1 ? 1 : 2);

export function requiredLevel(assurance: Assurance, r: LevelRequest): LevelDecision {
  const known = (values: string[]) =>
    values.map((v) => assurance.levelOf(v)).filter((l) => l > 0) as Level[];
  // Any of the listed values would do, so the weakest known one is what is required.
  const asked = known(r.acrValues);
  const essential = known(r.essentialAcrs);
  const levels = [
    r.clientMinimum,
    r.requireMfa ? 2 : 1,
    asked.length ? Math.min(...asked) : 1,
    essential.length ? Math.min(...essential) : 1,
    ...r.scopeLevels,
  ];
  return {
    level: clamp(Math.max(...levels)),
    unmet: r.essentialAcrs.length > 0 && essential.length === 0,
  };
}

/**
 * The acr to report for a login that reached `achieved`: when the client insisted on specific
 * values, the strongest of them that the login satisfies (so its equality check passes);
 * otherwise the value of the level reached.
 */
export function reportedAcr(
  assurance: Assurance,
  achieved: Level,
  essentialAcrs: string[],
): string {
  const satisfied = essentialAcrs
    .filter((v) => {
      const l = assurance.levelOf(v);
      return l > 0 && l <= achieved;
    })
    .sort((a, b) => assurance.levelOf(b) - assurance.levelOf(a));
  return satisfied[0] ?? assurance.acrFor(achieved);
}

/** Parses the claims request parameter and returns the essential acr values, if any. */
export function essentialAcrsOf(claims: unknown): string[] {
  let parsed: unknown = claims;
  if (typeof claims === 'string') {
    try {
      parsed = JSON.parse(claims);
    } catch {
      return [];
    }
  }
  const acr = (
    parsed as { id_token?: { acr?: { essential?: boolean; value?: unknown; values?: unknown } } }
  )?.id_token?.acr;
  if (!acr?.essential) return [];
  if (typeof acr.value === 'string') return [acr.value];
  return Array.isArray(acr.values)
    ? acr.values.filter((v): v is string => typeof v === 'string')
    : [];
}
