// The people of the login scenarios: a role granting the bench scope, a third-party client for
// the authorization-code flow, password-only users and users with a confirmed TOTP app, all
// through Portcullis' services. Users are imported with one Argon2id hash made by Portcullis
// (same password, so seeding takes seconds, not one hash per user); TOTP seeds are imported
// as known seeds, sealed per user as enrolment seals them.
import { generateSecret } from 'otplib';
import { normalizePassword } from '../src/accounts/passwordPolicy.ts';
import type { App } from '../src/app.ts';

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

export async function seedPeople(
  app: App,
  api: { identifier: string; scope: string },
  counts: PeopleCounts,
): Promise<People> {
  const { accounts, roles, clients, totp, hasher } = app.services;
  const role = await roles.create({
    name: 'bench-reader',
    scopes: { [api.identifier]: [api.scope] },
  });
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

  // One Argon2id hash made by Portcullis' own hasher (configured parameters and pepper) is the
  // password of every imported user.
  const passwordHash = await hasher.hash(normalizePassword(BENCH_PASSWORD));
  const importUsers = (prefix: string, count: number) =>
    accounts.importUsers(
      Array.from({ length: count }, (_, i) => ({
        email: `${prefix}-${i}@bench.example`,
        passwordHash,
      })),
      [role.name],
    );

  const passwordUsers = await importUsers('password', counts.passwordUsers);
  const totpUsers = (await importUsers('totp', counts.totpUsers)).map((u) => ({
    ...u,
    secret: generateSecret({ length: 20 }),
  }));
  await totp.importConfirmed(totpUsers.map((u) => ({ userId: u.id, secret: u.secret })));
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
