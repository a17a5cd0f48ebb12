// Development only: on an empty database, create a demo API and a demo public client and print
// a ready-to-open authorization URL, so a newcomer sees a login page within a minute.
import { createHash, randomBytes } from 'node:crypto';
import type { App } from './app.ts';

export const DEMO_API = 'https://demo-api.portcullis.localhost';

/** Creates the demo API and client when the database is empty; returns the banner to print. */
export async function runDevQuickstart(app: App): Promise<string | undefined> {
  const { catalogue, clients } = app.services;
  const issuer = app.config.issuer;
  // The demo client is public, which FAPI 2.0 forbids: a FAPI client brings its own keys.
  if (app.config.fapiProfile) return undefined;
  // Clients Portcullis itself keeps (the account page's) do not make a setup "used".
  const existing = (await clients.list()).filter((c) => c.createdBy !== 'system');
  let client = existing.find((c) => c.createdBy === 'quickstart');
  // Only on a fresh setup: once anyone has registered a client, the quickstart stays out of the way.
  if (!client && existing.length === 0) {
    if (!(await catalogue.findByIdentifier(DEMO_API)))
      await catalogue.create({
        identifier: DEMO_API,
        name: 'Demo banking API',
        tokenFormat: 'jwt',
        accessTokenTtl: 600,
        scopes: [
          { name: 'accounts:read', description: 'See your accounts and balances' },
          { name: 'payments:write', description: 'Make payments from your accounts' },
        ],
      });
    ({ client } = await clients.create(
      {
        name: 'Demo app',
        grantTypes: ['authorization_code', 'refresh_token'],
        redirectUris: [`${issuer}/demo/callback`],
        authMethod: 'none',
        apiAccess: { [DEMO_API]: ['accounts:read'] },
      },
      'quickstart',
    ));
  }
  if (!client) return undefined;

  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: client.clientId,
    response_type: 'code',
    redirect_uri: `${issuer}/demo/callback`,
    scope: 'openid profile email accounts:read',
    resource: DEMO_API,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
  }).toString();

  return banner(issuer, await setupState(app), { url: url.href, verifier });
}

/** How far the quick start of the README has got: people, and a role to see the demo accounts. */
export interface SetupState {
  users: number;
  /** A role that gives accounts:read on the demo API, and how many people hold it. */
  role: { name: string; members: number } | undefined;
}

async function setupState(app: App): Promise<SetupState> {
  const { total } = await app.services.accounts.search({ limit: 1 });
  const roles = await app.services.roles.list();
  const role = roles
    .filter((r) => r.scopes[DEMO_API]?.includes('accounts:read'))
    .sort((a, b) => b.members - a.members)[0];
  return { users: total, role: role && { name: role.name, members: role.members } };
}

/**
 * The README's quick start from where this setup is: creating a user only when there is none,
 * the customer role and its grant only when nobody holds one, then the authorization URL.
 */
export function banner(
  issuer: string,
  state: SetupState,
  demo: { url: string; verifier: string },
): string {
  const steps: string[][] = [];
  if (state.users === 0)
    steps.push([
      'Create a user (the password is asked for, never passed as an argument):',
      '     npx portcullis user create --email you@example.com --name "Your Name"',
    ]);
  if (!state.role)
    steps.push([
      'Create a role that lets its members see their accounts through the demo API:',
      '     npx portcullis role create --name customer --scope accounts:read',
    ]);
  if (!state.role || state.role.members === 0)
    steps.push([
      'Give your user the role:',
      `     npx portcullis role grant --user you@example.com --role ${state.role?.name ?? 'customer'}`,
    ]);
  steps.push([
    'Open this authorization URL for the demo client and sign in:',
    `     ${demo.url}`,
    `   (PKCE verifier for the code exchange: ${demo.verifier})`,
  ]);
  const people =
    state.users === 1 ? '1 person has an account' : `${state.users} people have accounts`;
  return [
    '',
    `  Portcullis (development) is running at ${issuer}`,
    `  Discovery: ${issuer}/.well-known/openid-configuration`,
    ...(state.users > 0
      ? [
          `  ${people}${state.role?.members ? `; ${state.role.members} with the role ${state.role.name}` : ''}.`,
        ]
      : []),
    '',
    steps.length > 1 ? '  Next, in another terminal:' : '  Next:',
    ...steps.flatMap(([first, ...rest], n) => [
      `  ${n + 1}. ${first}`,
      ...rest.map((l) => `  ${l}`),
    ]),
    '',
    `  Your account page: ${issuer}/account`,
    '',
  ].join('\n');
}
