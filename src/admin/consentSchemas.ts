// The admin API's schemas of consents (rich authorization details a person granted a client):
// the list query, the path parameter and the consent as an administrator sees it.
import { z } from 'zod';
import { CONSENT_STATUSES } from '../consents/consents.ts';
import { time } from './schemaBlocks.ts';

export const ConsentIdParams = z.strictObject({
  consentId: z
    .string()
    .regex(/^cns_[\w-]{22}$/, 'a consent id is cns_ and 22 base64url characters'),
});
export const ConsentQuery = z.strictObject({
  account: z.uuid().optional().describe("the person's user id"),
  client: z.string().min(1).max(128).optional().describe('the client id'),
  status: z.enum(CONSENT_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  offset: z.coerce
    .number()
    .int()
    .min(0)
    .max(399)
    .default(0)
    .describe('the newest 500 consents of a filter are listed: narrow it to see older ones'),
});
export const Consent = z.object({
  id: z.string(),
  status: z.enum(CONSENT_STATUSES).describe('authorised past its expiry reads expired'),
  clientId: z.string(),
  accountId: z.string(),
  grantId: z.string().nullable(),
  types: z.array(z.string()),
  authorizationDetails: z
    .array(z.looseObject({ type: z.string() }))
    .describe('the authorization_details exactly as the person saw them (RFC 9396)'),
  canonicalHash: z.string().describe('base64url SHA-256 of the canonical form of the details'),
  createdAt: time,
  authorisedAt: time.nullable(),
  expiresAt: time.nullable(),
  consumedAt: time.nullable(),
  consumedBy: z.string().nullable().describe('the client that consumed it'),
  revokedAt: time.nullable(),
  revokedBy: z.string().nullable().describe('user:<user id> or admin:<client or user id>'),
});
export const ConsentPage = z.object({
  consents: z.array(Consent),
  limit: z.int(),
  offset: z.int(),
  next: z.int().nullable().describe('pass as offset for the next page; null on the last'),
});
export const ConsentRevoked = Consent.extend({
  tokensRevoked: z.int().describe("artefacts of the consent's grant deleted (refresh tokens...)"),
});

export const consentResponseSchemas = { Consent, ConsentPage, ConsentRevoked };
