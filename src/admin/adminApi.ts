// The admin API as an API of the catalogue: its identifier (the audience of its tokens) is
// {ISSUER}/admin/v1, its scopes each need a level-2 sign-in. Kept in place at every start.
import type { ApiScope, Catalogue } from '../oidc/catalogue.ts';
import type { ClientRegistry } from '../oidc/clients.ts';

export const ADMIN_BASE_PATH = '/admin/v1';
/** Fixed id of the admin API in the catalogue, so it is found again after the issuer changes. */
export const ADMIN_API_ID = '00000000-0000-4000-8000-00000000ad01';

export const ADMIN_SCOPES = [
  'admin:apis',
  'admin:audit',
  'admin:clients',
  'admin:consents',
  'admin:grant-admin',
  'admin:roles',
  'admin:users',
] as const;
export type AdminScope = (typeof ADMIN_SCOPES)[number];

/**
 * Needed, with each admin scope handed out, to put admin scopes on a client, an initial access
 * token or a role, or to give someone a role carrying them: nobody hands out what they lack.
 */
export const GRANT_ADMIN: AdminScope = 'admin:grant-admin';
/** Every admin scope but admin:grant-admin: what the automation client of a bootstrap gets. */
export const MANAGEMENT_SCOPES = ADMIN_SCOPES.filter((s) => s !== GRANT_ADMIN);

const DESCRIPTIONS: Record<AdminScope, string> = {
  'admin:apis': 'Manage the APIs and their scopes',
  'admin:audit': 'Read the audit log',
  'admin:clients': 'Manage client applications and registration tokens',
  'admin:consents': 'Read and revoke the consents people gave (payments, account access)',
  'admin:grant-admin':
    'Hand out admin API scopes you hold (to clients, registration tokens and roles)',
  'admin:roles': 'Manage roles and who has them',
  'admin:users': 'Manage user accounts',
};

export const adminApiIdentifier = (issuer: string) => `${issuer}${ADMIN_BASE_PATH}`;

/**
 * Creates or updates the admin API. When the issuer changed since the last start, the API keeps
 * its id and takes the new identifier, and every client allowed the old one is moved over.
 */
export async function ensureAdminApi(
  services: { catalogue: Catalogue; clients: ClientRegistry },
  options: { issuer: string; accessTokenTtl: number },
): Promise<{ identifier: string; movedFrom: string | undefined; clientsMoved: number }> {
  const identifier = adminApiIdentifier(options.issuer);
  const scopes: ApiScope[] = ADMIN_SCOPES.map((name) => ({
    name,
    description: DESCRIPTIONS[name],
    requiredLevel: 2,
  }));
  const { previousIdentifier } = await services.catalogue.ensureSystemApi(ADMIN_API_ID, {
    identifier,
    name: 'Portcullis admin API',
    tokenFormat: 'jwt',
    accessTokenTtl: options.accessTokenTtl,
    scopes,
  });
  const clientsMoved = previousIdentifier
    ? await services.clients.renameApiAccess(previousIdentifier, identifier)
    : 0;
  return { identifier, movedFrom: previousIdentifier, clientsMoved };
}
