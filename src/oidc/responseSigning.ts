// Which of the key ring's algorithms signs each response a client receives (ID token, UserInfo,
// JARM, JWT introspection): the client's choice among the ring's, its profile's set permitting.
import { invalid } from '../errors.ts';
import { type Profile, profileViolations } from './profiles.ts';

/** ClientInput field -> the oidc-provider client metadata member it sets. */
export const RESPONSE_SIGNING_FIELDS = {
  idTokenAlg: 'id_token_signed_response_alg',
  userinfoAlg: 'userinfo_signed_response_alg',
  authorizationAlg: 'authorization_signed_response_alg',
  introspectionAlg: 'introspection_signed_response_alg',
} as const;

export type ResponseSigningField = keyof typeof RESPONSE_SIGNING_FIELDS;
export type ResponseSigningInput = Partial<Record<ResponseSigningField, string | undefined>>;

/**
 * The metadata members for a client's chosen algorithms, each one of `ringAlgs`. The ID token
 * algorithm is always stored (the default one when not chosen); the others only when chosen
 * (otherwise the server's defaults apply, and UserInfo stays plain JSON).
 */
export function responseSigningMetadata(
  input: ResponseSigningInput,
  ringAlgs: readonly string[],
): Record<string, string> {
  const metadata: Record<string, string> = { id_token_signed_response_alg: ringAlgs[0]! };
  for (const [field, member] of Object.entries(RESPONSE_SIGNING_FIELDS)) {
    const alg = input[field as ResponseSigningField];
    if (alg === undefined || alg === null) continue;
    if (typeof alg !== 'string' || !ringAlgs.includes(alg))
      throw invalid(`${member} must be one of ${ringAlgs.join(', ')}`, field);
    metadata[member] = alg;
  }
  return metadata;
}

/**
 * A stored client's metadata with some algorithms changed (the others kept), refused when one is
 * not the ring's or not its profile's.
 */
export function withResponseSigning(
  metadata: Record<string, unknown>,
  input: ResponseSigningInput,
  ringAlgs: readonly string[],
  profile: Profile,
): Record<string, unknown> {
  const { id_token_signed_response_alg: _default, ...chosen } = responseSigningMetadata(
    input,
    ringAlgs,
  );
  const changed = { ...metadata, ...chosen };
  if (input.idTokenAlg !== undefined) changed.id_token_signed_response_alg = input.idTokenAlg;
  const members = new Set<string>(Object.values(RESPONSE_SIGNING_FIELDS));
  const problem = profileViolations(profile, changed).find(([member]) => members.has(member));
  if (problem) {
    const field = Object.entries(RESPONSE_SIGNING_FIELDS).find(([, m]) => m === problem[0])![0];
    throw invalid(problem[1], field);
  }
  return changed;
}

/** What a client view shows: the algorithm of each response not signed with `defaultAlg`. */
export function responseSigningOf(
  metadata: Record<string, unknown>,
  defaultAlg: string,
): Partial<Record<ResponseSigningField, string>> {
  const out: Partial<Record<ResponseSigningField, string>> = {};
  for (const [field, member] of Object.entries(RESPONSE_SIGNING_FIELDS)) {
    const alg = metadata[member];
    if (typeof alg === 'string' && alg !== defaultAlg) out[field as ResponseSigningField] = alg;
  }
  return out;
}
