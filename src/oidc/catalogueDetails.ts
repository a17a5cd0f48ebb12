// The API catalogue's part in rich authorization requests (RFC 9396): which detail types an API
// accepts (each type belongs to one API at most) and the scope its resource servers need to read
// and consume the consents of those types.
import { DETAIL_TYPES, isDetailType } from '../consents/detailTypes.ts';
import { conflict, invalid } from '../errors.ts';
import { DetailTypeTaken } from './catalogueStore.ts';

/** Detail types an API declares: known built-in types, each once; returned sorted. */
export function validateDetailTypes(types: unknown): string[] {
  if (!Array.isArray(types)) throw invalid('detail types are a list of type names', 'detailTypes');
  const seen = new Set<string>();
  for (const [i, t] of types.entries()) {
    if (!isDetailType(t))
      throw invalid(
        `unknown detail type '${String(t)}' (known: ${DETAIL_TYPES.join(', ')})`,
        `detailTypes/${i}`,
      );
    if (seen.has(t)) throw invalid(`detail type '${t}' is listed twice`, `detailTypes/${i}`);
    seen.add(t);
  }
  return [...seen].sort();
}

/**
 * The consent scope of an API as it will be: one of its scopes, and present whenever it declares
 * detail types (a resource server must prove it may execute the API's consents).
 */
export function validateConsentScope(
  consentScope: string | null | undefined,
  detailTypes: string[],
  scopeNames: string[],
): string | null {
  const scope = consentScope?.trim() || null;
  if (detailTypes.length > 0 && !scope)
    throw invalid(
      'an API that declares detail types needs a consent scope: the scope its resource servers carry to read and consume consents',
      'consentScope',
    );
  if (scope && !scopeNames.includes(scope))
    throw invalid(`consent scope '${scope}' is not one of the API's scopes`, 'consentScope');
  return scope;
}

/** Runs a catalogue write; a detail type another API declares becomes a conflict naming it. */
export async function refusingTakenDetailTypes<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!(err instanceof DetailTypeTaken)) throw err;
    throw conflict(
      `detail type '${err.type}' is already declared by the API ${err.identifier}`,
      'detailTypes',
    );
  }
}
