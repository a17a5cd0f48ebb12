// What the admin API's routes use, gathered once in the composition root.
import type { Accounts } from '../accounts/accounts.ts';
import type { Roles } from '../accounts/roles.ts';
import type { AuditLog } from '../audit/log.ts';
import type { Consents } from '../consents/consents.ts';
import type { Factors } from '../mfa/factors.ts';
import type { Catalogue } from '../oidc/catalogue.ts';
import type { ClientRegistry } from '../oidc/clients.ts';
import type { GrantRegistry } from '../oidc/grants.ts';
import type { Registration } from '../oidc/registration.ts';

export interface AdminServices {
  catalogue: Catalogue;
  clients: ClientRegistry;
  accounts: Accounts;
  roles: Roles;
  factors: Factors;
  grants: GrantRegistry;
  audit: AuditLog;
  registration: Registration;
  consents: Consents;
}

export interface AdminContext {
  issuer: string;
  services: AdminServices;
  /** Whether dynamic registration (and so initial access tokens) is on. */
  registrationEnabled: boolean;
}
