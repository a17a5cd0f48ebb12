// /consents: what people granted clients through rich authorization requests. List (filtered by
// person, client and status), show, and revoke (which also ends the consent's grant and tokens).
import type { Consent as ConsentModel } from '../../consents/consents.ts';
import { notFound } from '../../errors.ts';
import {
  Consent,
  ConsentIdParams,
  ConsentPage,
  ConsentQuery,
  ConsentRevoked,
} from '../consentSchemas.ts';
import type { AdminContext } from '../context.ts';
import { type AnyRoute, defineRoute, iso, isoOrNull } from '../route.ts';

const TAG = 'Consents';
const SCOPE = 'admin:consents';

export const consentJson = (c: ConsentModel) => ({
  id: c.id,
  status: c.status,
  clientId: c.clientId,
  accountId: c.accountId,
  grantId: c.grantId,
  types: c.types,
  authorizationDetails: c.details,
  canonicalHash: c.canonicalHash,
  createdAt: iso(c.createdAt),
  authorisedAt: isoOrNull(c.authorisedAt),
  expiresAt: isoOrNull(c.expiresAt),
  consumedAt: isoOrNull(c.consumedAt),
  consumedBy: c.consumedBy,
  revokedAt: isoOrNull(c.revokedAt),
  revokedBy: c.revokedBy,
});

export function consentRoutes({ services }: AdminContext): AnyRoute[] {
  const { consents, grants } = services;

  async function requireConsent(id: string): Promise<ConsentModel> {
    const found = await consents.find(id);
    if (!found) throw notFound(`no consent ${id}`);
    return found;
  }

  return [
    defineRoute({
      method: 'get',
      path: '/consents',
      operationId: 'listConsents',
      summary: 'Consents, newest first, filtered by person, client and status, a page at a time',
      tag: TAG,
      scope: SCOPE,
      query: ConsentQuery,
      response: ConsentPage,
      async handler({ query }) {
        // One more than the page, to know whether another follows.
        const found = await consents.list({
          ...(query.account ? { accountId: query.account } : {}),
          ...(query.client ? { clientId: query.client } : {}),
          ...(query.status ? { status: query.status } : {}),
          limit: query.offset + query.limit + 1,
        });
        const page = found.slice(query.offset, query.offset + query.limit);
        return {
          consents: page.map(consentJson),
          limit: query.limit,
          offset: query.offset,
          next: found.length > query.offset + query.limit ? query.offset + query.limit : null,
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/consents/{consentId}',
      operationId: 'getConsent',
      summary: 'Show a consent with its authorization details',
      tag: TAG,
      scope: SCOPE,
      params: ConsentIdParams,
      response: Consent,
      errors: [404],
      async handler({ params }) {
        return consentJson(await requireConsent(params.consentId));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/consents/{consentId}/revoke',
      operationId: 'revokeConsent',
      summary:
        "Revoke an authorised consent: its grant and the grant's tokens end (refresh tokens stop working, introspection answers inactive). Revoking a revoked consent answers it as it is",
      tag: TAG,
      scope: SCOPE,
      params: ConsentIdParams,
      response: ConsentRevoked,
      errors: [404, 409],
      async handler({ params, principal, audit }) {
        const before = await requireConsent(params.consentId);
        if (before.status === 'revoked') return { ...consentJson(before), tokensRevoked: 0 };
        const revoked = await consents.revoke(params.consentId, {
          type: 'admin',
          id: principal.actor.id,
        });
        const tokensRevoked = revoked.grantId ? await grants.revokeGrant(revoked.grantId) : 0;
        await audit(
          'consent.revoked',
          { type: 'consent', id: revoked.id },
          { types: revoked.types, grants: revoked.grantId ? 1 : 0, tokens: tokensRevoked },
        );
        return { ...consentJson(revoked), tokensRevoked };
      },
    }),
  ];
}
