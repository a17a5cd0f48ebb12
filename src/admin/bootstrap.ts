// The first administrator: a role granting every admin scope (admin:grant-admin included), a
// person holding it, and a client for automation (client credentials, every admin scope but
// admin:grant-admin unless asked for; private_key_jwt with given keys, which FAPI 2.0 demands).
// Everything is checked before anything is written, and what was written is undone if a later
// step fails.
import type { Accounts, User } from '../accounts/accounts.ts';
import { validateEmail } from '../accounts/accounts.ts';
import { checkPassword } from '../accounts/passwordPolicy.ts';
import type { Role, Roles } from '../accounts/roles.ts';
import { conflict, invalid } from '../errors.ts';
import type { ClientRegistry, ClientView } from '../oidc/clients.ts';
import { type ProfileName, profileOf, type ServerProfileSetting } from '../oidc/profiles.ts';
import { ADMIN_SCOPES, adminApiIdentifier, MANAGEMENT_SCOPES } from './adminApi.ts';

export const ADMIN_ROLE = 'administrator';
export const AUTOMATION_CLIENT_NAME = 'Portcullis automation';

export interface BootstrapServices {
  accounts: Accounts;
  roles: Roles;
  clients: ClientRegistry;
}

export interface BootstrapResult {
  user: User;
  role: Role;
  /** The role before, when it existed already (--force). */
  roleBefore: Role | undefined;
  client: ClientView;
  /** The automation client's secret; undefined when it authenticates with its keys. */
  clientSecret: string | undefined;
}

/** The automation client's keys and profile, as given to the bootstrap. */
export interface AutomationClientKeys {
  /** Its public keys: it then authenticates with private_key_jwt instead of a secret. */
  jwks?: { keys: Record<string, unknown>[] } | undefined;
  /** `fapi2`: FAPI 2.0 (private_key_jwt, DPoP-bound tokens); default: the server's. */
  profile?: ProfileName | undefined;
  /** FAPI_PROFILE. */
  serverProfile: ServerProfileSetting;
}

/**
 * Refuses (DomainError invalid_input) a FAPI 2.0 automation client without keys: the profile
 * allows no secret. Checked before asking for a password.
 */
export function assertAutomationClientKeys(keys: AutomationClientKeys): void {
  const profile = profileOf({ profile: keys.profile }, keys.serverProfile);
  if (profile.name === 'fapi2' && !keys.jwks)
    throw invalid(
      'a FAPI 2.0 automation client authenticates with private_key_jwt, not a secret: give its public keys with --jwks-file',
    );
}

/**
 * A role that already makes someone an administrator: the named one, or one with every admin
 * scope (admin:grant-admin aside) on the admin API of this issuer.
 */
export async function existingAdministratorRole(
  roles: Roles,
  issuer: string,
): Promise<Role | undefined> {
  const audience = adminApiIdentifier(issuer);
  const all = await roles.list();
  return all.find(
    (r) => r.name === ADMIN_ROLE || MANAGEMENT_SCOPES.every((s) => r.scopes[audience]?.includes(s)),
  );
}

/** Refuses (DomainError conflict) when an administrator exists already, unless `force`. */
export async function assertBootstrapAllowed(
  roles: Roles,
  issuer: string,
  force: boolean,
): Promise<void> {
  const existing = await existingAdministratorRole(roles, issuer);
  if (existing && !force) {
    throw conflict(
      `an administrator role (${existing.name}) already exists: run with --force to add another administrator`,
    );
  }
}

export async function bootstrapAdmin(
  services: BootstrapServices,
  input: {
    issuer: string;
    email: string;
    name?: string | undefined;
    password: string;
    force: boolean;
    /** Give the automation client admin:grant-admin too (off by default). */
    clientGrantAdmin?: boolean | undefined;
    /** The automation client's keys and profile; none: a secret (not under FAPI 2.0). */
    clientKeys?: AutomationClientKeys | undefined;
  },
): Promise<BootstrapResult> {
  const { accounts, roles, clients } = services;
  const audience = adminApiIdentifier(input.issuer);
  const keys = input.clientKeys ?? { serverProfile: undefined };
  await assertBootstrapAllowed(roles, input.issuer, input.force);
  assertAutomationClientKeys(keys);
  const email = validateEmail(input.email);
  checkPassword(input.password, { email, name: input.name ?? '' });
  if (await accounts.get(email))
    throw conflict('a user with this email address already exists', 'email');

  const undo: (() => Promise<unknown>)[] = [];
  try {
    const { client, secret } = await clients.create(
      {
        name: AUTOMATION_CLIENT_NAME,
        grantTypes: ['client_credentials'],
        authMethod: keys.jwks ? 'private_key_jwt' : 'client_secret_basic',
        jwks: keys.jwks,
        profile: keys.profile,
        apiAccess: {
          [audience]: input.clientGrantAdmin ? [...ADMIN_SCOPES] : [...MANAGEMENT_SCOPES],
        },
      },
      'bootstrap',
    );
    undo.push(() => clients.delete(client.clientId));

    const roleBefore = await roles.get(ADMIN_ROLE);
    let role: Role;
    if (roleBefore) {
      const scopes = {
        ...roleBefore.scopes,
        [audience]: [...new Set([...(roleBefore.scopes[audience] ?? []), ...ADMIN_SCOPES])],
      };
      role = (await roles.update(ADMIN_ROLE, { scopes })).after;
      undo.push(() => roles.update(ADMIN_ROLE, { scopes: roleBefore.scopes }));
    } else {
      role = await roles.create({
        name: ADMIN_ROLE,
        description: 'Every admin API scope',
        scopes: { [audience]: [...ADMIN_SCOPES] },
      });
      undo.push(() => roles.delete(ADMIN_ROLE));
    }

    const user = await accounts.create({
      email,
      name: input.name,
      password: input.password,
      roles: [ADMIN_ROLE],
    });
    return {
      user,
      role: { ...role, members: role.members + 1 },
      roleBefore,
      client,
      clientSecret: secret,
    };
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw err;
  }
}
