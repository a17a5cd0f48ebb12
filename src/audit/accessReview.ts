// Access review: every user with their roles, the scopes those roles grant on each API, their
// last sign-in, and which granted scopes no token issued to them for that API carried within the
// review period (read from the audit log's token.issued events); and the clients registered with
// weaker settings (PKCE optional). Built on the services, not on other modules' tables.
import type { Accounts } from '../accounts/accounts.ts';
import { type ApiScopes, type Roles, toApiScopes } from '../accounts/roles.ts';
import type { Clock } from '../clock.ts';
import { type ClientRegistry, clientWarnings } from '../oidc/clients.ts';
import type { AuditLog } from './log.ts';

export interface AccessReviewEntry {
  userId: string;
  email: string;
  name: string;
  status: string;
  roles: string[];
  /** Every scope the user's roles grant: API identifier -> scopes of that API. */
  scopes: ApiScopes;
  lastLoginAt: Date | null;
  /** Granted scopes that no token issued to the user for their API carried in the period. */
  unusedScopes: ApiScopes;
}

export interface AccessReview {
  generatedAt: Date;
  /** Start of the period scopes were looked for in. */
  since: Date;
  unusedDays: number;
  users: AccessReviewEntry[];
  /** Clients with a setting weaker than the default, each with what an administrator should know. */
  clientWarnings: { clientId: string; name: string; warnings: string[] }[];
}

const PAGE = 500;

const pair = (identifier: string, scope: string) => `${identifier} ${scope}`;

/** User id -> (API identifier, scope) pairs their tokens carried since `since`. */
async function usedScopes(audit: AuditLog, since: Date): Promise<Map<string, Set<string>>> {
  const used = new Map<string, Set<string>>();
  let after: number | undefined;
  for (;;) {
    const page = await audit.query({
      action: 'token.issued',
      targetType: 'user',
      since,
      limit: PAGE,
      ...(after !== undefined ? { after } : {}),
    });
    for (const event of page.events) {
      const { scope, audience } = event.details;
      if (!event.target || typeof scope !== 'string') continue;
      const audiences = (Array.isArray(audience) ? audience : [audience]).filter(
        (a): a is string => typeof a === 'string',
      );
      const set = used.get(event.target.id) ?? new Set<string>();
      for (const a of audiences) for (const s of scope.split(' ')) if (s) set.add(pair(a, s));
      used.set(event.target.id, set);
    }
    if (page.next === undefined) return used;
    after = page.next;
  }
}

export async function accessReview(
  services: {
    accounts: Accounts;
    roles: Roles;
    audit: AuditLog;
    clock: Clock;
    clients: Pick<ClientRegistry, 'list'>;
  },
  options: { unusedDays: number },
): Promise<AccessReview> {
  const generatedAt = new Date(services.clock.now());
  const since = new Date(generatedAt.getTime() - options.unusedDays * 24 * 3600 * 1000);
  const roleScopes = new Map((await services.roles.list()).map((r) => [r.name, r.scopes]));
  const used = await usedScopes(services.audit, since);

  const users: AccessReviewEntry[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await services.accounts.search({ limit: PAGE, offset });
    for (const u of page.users) {
      const pairs = u.roles.flatMap((r) =>
        Object.entries(roleScopes.get(r) ?? {}).flatMap(([identifier, scopes]) =>
          scopes.map((scope) => ({ identifier, scope })),
        ),
      );
      const usedByUser = used.get(u.id) ?? new Set<string>();
      users.push({
        userId: u.id,
        email: u.email,
        name: u.name,
        status: u.status,
        roles: u.roles,
        scopes: toApiScopes(pairs),
        lastLoginAt: u.lastLoginAt,
        unusedScopes: toApiScopes(
          pairs.filter((p) => !usedByUser.has(pair(p.identifier, p.scope))),
        ),
      });
    }
    if (offset + PAGE >= page.total || page.users.length === 0) break;
  }
  const flagged = (await services.clients.list())
    .map((c) => ({ clientId: c.clientId, name: c.name, warnings: clientWarnings(c) }))
    .filter((c) => c.warnings.length > 0);
  return { generatedAt, since, unusedDays: options.unusedDays, users, clientWarnings: flagged };
}
