// The people of the login scenarios: a role granting the bench scope, a third-party client for
// the authorization-code flow, password-only users and users with a confirmed TOTP app. Users
// are inserted in bulk with one Argon2 hash made by Portcullis (same password, so seeding takes
// seconds, not one hash per user); TOTP seeds are sealed per user exactly as enrolment does.
import { randomUUID } from 'node:crypto';
import { generateSecret } from 'otplib';
import type { App } from '../src/app.ts';
import { totpSealContext } from '../src/mfa/totp.ts';

export const LOGIN_REDIRECT_URI = 'http://127.0.0.1/bench/callback';
export const BENCH_PASSWORD = 'quartz-lantern-91-orbit-mesa';

export interface People {
  /** authorization_code + refresh_token, client_secret_basic, third party (consent shown). */
  client: { clientId: string; secret: string; redirectUri: string };
  password: string;
  /** Password-only users. */
  passwordUsers: string[];
  /** Users with a confirmed TOTP authenticator: email and base32 seed. */
  totpUsers: { email: string; secret: string }[];
}

export interface PeopleCounts {
  passwordUsers: number;
  totpUsers: number;
}

const BATCH = 1000;

export async function seedPeople(
  app: App,
  api: { identifier: string; scope: string },
  counts: PeopleCounts,
): Promise<People> {
  const { accounts, roles, clients, sealer } = app.services;
  const { knex } = app.db;
  const role = await roles.create({ name: 'bench-reader', scopes: [api.scope] });
  const created = await clients.create(
    {
      name: 'Bench web app',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [LOGIN_REDIRECT_URI],
      authMethod: 'client_secret_basic',
      apiAccess: { [api.identifier]: [api.scope] },
    },
    'bench',
  );

  // One user made through the service gives the hash every other user copies.
  const template = await accounts.create({
    email: 'template@bench.example',
    password: BENCH_PASSWORD,
    roles: [role.name],
  });
  const { password_hash } = (await knex('users')
    .where({ id: template.id })
    .first('password_hash')) as { password_hash: string };

  const now = new Date();
  const insertUsers = async (prefix: string, count: number) => {
    const ids: { id: string; email: string }[] = [];
    for (let start = 0; start < count; start += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, count - start) }, (_, i) => ({
        id: randomUUID(),
        email: `${prefix}-${start + i}@bench.example`,
      }));
      await knex('users').insert(
        batch.map((u) => ({
          ...u,
          name: '',
          password_hash,
          status: 'active',
          email_verified: true,
          created_at: now,
          updated_at: now,
          password_changed_at: now,
        })),
      );
      await knex('user_roles').insert(
        batch.map((u) => ({ user_id: u.id, role_id: role.id, granted_at: now })),
      );
      ids.push(...batch);
    }
    return ids;
  };

  const passwordUsers = await insertUsers('password', counts.passwordUsers);
  const totpUsers = (await insertUsers('totp', counts.totpUsers)).map((u) => ({
    ...u,
    secret: generateSecret({ length: 20 }),
  }));
  for (let start = 0; start < totpUsers.length; start += BATCH) {
    await knex('totp_authenticators').insert(
      totpUsers.slice(start, start + BATCH).map((u) => ({
        id: randomUUID(),
        user_id: u.id,
        secret_sealed: sealer.seal(u.secret, totpSealContext(u.id)),
        last_used_step: null,
        created_at: now,
        confirmed_at: now,
      })),
    );
  }
  return {
    client: {
      clientId: created.client.clientId,
      secret: created.secret!,
      redirectUri: LOGIN_REDIRECT_URI,
    },
    password: BENCH_PASSWORD,
    passwordUsers: passwordUsers.map((u) => u.email),
    totpUsers: totpUsers.map(({ email, secret }) => ({ email, secret })),
  };
}
