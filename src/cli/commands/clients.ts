// `portcullis client create|list|show|update|delete|rotate-secret`: OAuth clients.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { App } from '../../app.ts';
import {
  AUTH_METHODS,
  type AuthMethod,
  clientWarnings,
  GRANT_TYPE_ALIASES,
  GRANT_TYPES,
  type GrantType,
  PKCE_SETTINGS,
  type PkceSetting,
  SENDER_CONSTRAINTS,
  type SenderConstraint,
  TLS_SUBJECT_KINDS,
  type TlsSubjectKind,
} from '../../oidc/clients.ts';
import { PROFILE_NAMES, type ProfileName } from '../../oidc/profiles.ts';
import { auditChange, withApp } from '../context.ts';
import { CliError, print, printTable } from '../output.ts';
import { addCibaOptions, backchannelOption, type CibaOptions } from './cibaOptions.ts';
import {
  clientJson,
  rateLimitText,
  readRateLimit,
  registerClientUpdate,
  signingOptions,
} from './clientUpdate.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];
/** Grant types as the CLI takes them: the short alias of a long URN where there is one. */
const GRANT_NAMES = GRANT_TYPES.map(
  (g) => Object.entries(GRANT_TYPE_ALIASES).find(([, urn]) => urn === g)?.[0] ?? g,
).join(', ');

/** Assigns each --scope to the --api entries that define it; no --scope means all their scopes. */
async function resolveApiAccess(
  app: App,
  apis: string[],
  scopes: string[],
): Promise<Record<string, string[]>> {
  const access: Record<string, string[]> = {};
  const unclaimed = new Set(scopes);
  for (const identifier of apis) {
    const api = await app.services.catalogue.findByIdentifier(identifier);
    if (!api)
      throw new CliError(
        `no API with identifier ${identifier} is registered (see "portcullis api list")`,
      );
    const defined = api.scopes.map((s) => s.name);
    const chosen = scopes.length ? defined.filter((s) => scopes.includes(s)) : defined;
    for (const s of chosen) unclaimed.delete(s);
    if (chosen.length === 0)
      throw new CliError(`none of the given --scope values is defined by ${identifier}`);
    access[identifier] = chosen;
  }
  if (unclaimed.size > 0)
    throw new CliError(`no listed --api defines the scope ${[...unclaimed].join(', ')}`);
  return access;
}

export function readJwks(file: string): { keys: Record<string, unknown>[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot read --jwks-file ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const jwks = parsed as { keys?: unknown };
  if (!jwks || !Array.isArray(jwks.keys))
    throw new CliError(`--jwks-file ${file} is not a JWK Set ({"keys": [...]})`);
  for (const k of jwks.keys as Record<string, unknown>[]) {
    if ('d' in k)
      throw new CliError(
        `--jwks-file ${file} contains a private key: give the client's public keys only`,
      );
  }
  return jwks as { keys: Record<string, unknown>[] };
}

/** The camel-case option of each certificate subject kind (--tls-subject-dn, --tls-san-dns...). */
const TLS_SUBJECT_OPTIONS: Record<TlsSubjectKind, keyof CreateOptions> = {
  subject_dn: 'tlsSubjectDn',
  san_dns: 'tlsSanDns',
  san_uri: 'tlsSanUri',
  san_ip: 'tlsSanIp',
  san_email: 'tlsSanEmail',
};
const flagOf = (kind: TlsSubjectKind) =>
  kind === 'subject_dn' ? '--tls-subject-dn' : `--tls-${kind.replace('_', '-')}`;

/** The one certificate subject of a tls_client_auth client, from whichever --tls-* flag was given. */
function readTlsSubject(
  opts: CreateOptions,
  authMethod: AuthMethod,
): { kind: TlsSubjectKind; value: string } | undefined {
  const given = TLS_SUBJECT_KINDS.filter((kind) => opts[TLS_SUBJECT_OPTIONS[kind]] !== undefined);
  if (authMethod !== 'tls_client_auth') {
    if (given.length)
      throw new CliError(`${flagOf(given[0]!)} is only used with --auth tls_client_auth`);
    return undefined;
  }
  if (given.length !== 1)
    throw new CliError(
      `--auth tls_client_auth needs exactly one of ${TLS_SUBJECT_KINDS.map(flagOf).join(', ')}`,
    );
  const kind = given[0]!;
  return { kind, value: String(opts[TLS_SUBJECT_OPTIONS[kind]]) };
}

interface CreateOptions extends CibaOptions {
  name: string;
  grant: string[];
  redirectUri?: string[];
  postLogoutRedirectUri?: string[];
  api?: string[];
  scope?: string[];
  auth?: string;
  public?: boolean;
  jwksFile?: string;
  tlsSubjectDn?: string;
  tlsSanDns?: string;
  tlsSanUri?: string;
  tlsSanIp?: string;
  tlsSanEmail?: string;
  senderConstraint?: string;
  firstParty?: boolean;
  minLevel: string;
  rateLimit?: string;
  profile?: string;
  requireSignedRequestObject?: boolean;
  pkce?: string;
  dpopBound?: boolean;
  idTokenAlg?: string;
  userinfoAlg?: string;
  authorizationAlg?: string;
  introspectionAlg?: string;
  backchannelLogoutUri?: string;
  frontchannelLogoutUri?: string;
  json?: boolean;
}

export function registerClientCommands(program: Command): void {
  const client = program.command('client').description('manage OAuth clients');

  signingOptions(addCibaOptions(client.command('create')))
    .description('register a client; prints its id and, once, its secret')
    .requiredOption('--name <name>', 'the name people see on the consent page')
    .requiredOption('--grant <type>', `grant type: ${GRANT_NAMES} (repeat)`, collect)
    .option('--redirect-uri <uri>', 'an allowed redirect URI (repeat)', collect)
    .option(
      '--post-logout-redirect-uri <uri>',
      'an allowed post-logout redirect URI (repeat)',
      collect,
    )
    .option('--api <identifier>', 'an API the client may get tokens for (repeat)', collect)
    .option(
      '--scope <scope>',
      'an API scope the client may ask for (repeat; default: all scopes of its APIs)',
      collect,
    )
    .option(
      '--auth <method>',
      `client authentication: ${AUTH_METHODS.filter((m) => m !== 'none').join(', ')}`,
    )
    .option(
      '--public',
      'a public client (no secret; PKCE only), e.g. a mobile or single-page app, or a TV with --grant device_code',
    )
    .option(
      '--jwks-file <file>',
      "the client's public keys (JWK Set) for private_key_jwt, or its certificates (x5c) for self_signed_tls_client_auth",
    )
    .option('--tls-subject-dn <dn>', 'tls_client_auth: the certificate subject DN (RFC 4514)')
    .option('--tls-san-dns <name>', 'tls_client_auth: a DNS name of the certificate')
    .option('--tls-san-uri <uri>', 'tls_client_auth: a URI of the certificate')
    .option('--tls-san-ip <address>', 'tls_client_auth: an IP address of the certificate')
    .option('--tls-san-email <address>', 'tls_client_auth: an e-mail address of the certificate')
    .option(
      '--sender-constraint <kind>',
      `bind its tokens: ${SENDER_CONSTRAINTS.join(' (DPoP key) or ')} (TLS client certificate)`,
    )
    .option('--first-party', 'an application of your own: skips the consent page')
    .option('--min-level <level>', 'lowest assurance level its logins must reach: 1, 2 or 3', '1')
    .option(
      '--rate-limit <N/SECONDS>',
      'its request limit at the token, introspection, revocation, PAR and admin endpoints (default: CLIENT_RATE_LIMIT)',
    )
    .option(
      '--profile <profile>',
      `what its requests must obey: ${PROFILE_NAMES.join(', ')} (fapi2: FAPI 2.0, PAR, private_key_jwt, DPoP-bound tokens; default: default, or fapi2 under FAPI_PROFILE=2.0)`,
    )
    .option(
      '--require-signed-request-object',
      'authorization requests only as request objects signed with its keys (JAR), pushed to the PAR endpoint',
    )
    .option(
      '--pkce <setting>',
      `PKCE: ${PKCE_SETTINGS.join(' (default) or ')} (a confidential OpenID Connect RP that sends no code_challenge; never public or fapi2 clients)`,
    )
    .option(
      '--dpop-bound',
      'its access tokens are bound to a DPoP key (same as --sender-constraint dpop)',
    )
    .option(
      '--backchannel-logout-uri <uri>',
      'where signed logout tokens are posted when a session with it ends (OpenID Connect Back-Channel Logout)',
    )
    .option(
      '--frontchannel-logout-uri <uri>',
      'the page loaded in an iframe, with iss and sid, when a person signs out (Front-Channel Logout)',
    )
    .option('--json', 'print the result as JSON')
    .action(async (opts: CreateOptions) => {
      if (opts.pkce !== undefined && !PKCE_SETTINGS.includes(opts.pkce as PkceSetting))
        throw new CliError(`--pkce must be ${PKCE_SETTINGS.join(' or ')}`);
      if (opts.dpopBound && (opts.senderConstraint ?? 'dpop') !== 'dpop')
        throw new CliError(
          `--dpop-bound and --sender-constraint ${opts.senderConstraint} contradict`,
        );
      if (opts.dpopBound) opts.senderConstraint = 'dpop';
      if (opts.public && opts.auth) throw new CliError('choose either --public or --auth');
      if (opts.profile !== undefined && !PROFILE_NAMES.includes(opts.profile as ProfileName))
        throw new CliError(`--profile must be one of ${PROFILE_NAMES.join(', ')}`);
      const profile = opts.profile as ProfileName | undefined;
      // A FAPI 2.0 client never has a secret: it signs its requests (private_key_jwt).
      const defaultAuth = profile === 'fapi2' ? 'private_key_jwt' : 'client_secret_basic';
      const authMethod = (opts.public ? 'none' : (opts.auth ?? defaultAuth)) as AuthMethod;
      if (!AUTH_METHODS.includes(authMethod) || (authMethod === 'none' && !opts.public)) {
        throw new CliError(
          `--auth must be one of ${AUTH_METHODS.filter((m) => m !== 'none').join(', ')}`,
        );
      }
      opts.grant = opts.grant.map((g) => GRANT_TYPE_ALIASES[g] ?? g);
      for (const g of opts.grant) {
        if (!GRANT_TYPES.includes(g as GrantType))
          throw new CliError(`--grant ${g} is not one of ${GRANT_NAMES}`);
      }
      if (
        (authMethod === 'private_key_jwt' || authMethod === 'self_signed_tls_client_auth') &&
        !opts.jwksFile
      )
        throw new CliError(`--auth ${authMethod} needs --jwks-file`);
      if (
        opts.jwksFile &&
        !['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'].includes(authMethod)
      )
        throw new CliError(
          '--jwks-file is only used with --auth private_key_jwt, tls_client_auth or self_signed_tls_client_auth',
        );
      const tlsSubject = readTlsSubject(opts, authMethod);
      if (
        opts.senderConstraint !== undefined &&
        !SENDER_CONSTRAINTS.includes(opts.senderConstraint as SenderConstraint)
      )
        throw new CliError(`--sender-constraint must be ${SENDER_CONSTRAINTS.join(' or ')}`);
      if (!['1', '2', '3'].includes(opts.minLevel))
        throw new CliError('--min-level must be 1, 2 or 3');
      const jwks = opts.jwksFile ? readJwks(opts.jwksFile) : undefined;
      const rateLimit = opts.rateLimit === undefined ? null : readRateLimit(opts.rateLimit);
      await withApp(async (app) => {
        const apiAccess = await resolveApiAccess(app, opts.api ?? [], opts.scope ?? []);
        const { client: created, secret } = await app.services.clients.create({
          name: opts.name,
          grantTypes: opts.grant as GrantType[],
          redirectUris: opts.redirectUri,
          postLogoutRedirectUris: opts.postLogoutRedirectUri,
          authMethod,
          jwks,
          tlsSubject,
          senderConstraint: opts.senderConstraint as SenderConstraint | undefined,
          apiAccess,
          firstParty: opts.firstParty,
          minAssuranceLevel: Number(opts.minLevel) as 1 | 2 | 3,
          rateLimit,
          profile,
          requireSignedRequestObject: opts.requireSignedRequestObject,
          pkce: opts.pkce as PkceSetting | undefined,
          idTokenAlg: opts.idTokenAlg,
          userinfoAlg: opts.userinfoAlg,
          authorizationAlg: opts.authorizationAlg,
          introspectionAlg: opts.introspectionAlg,
          backchannelLogoutUri: opts.backchannelLogoutUri,
          frontchannelLogoutUri: opts.frontchannelLogoutUri,
          backchannel: backchannelOption(opts),
        });
        await auditChange(
          app,
          'client.created',
          { type: 'client', id: created.clientId },
          {
            name: created.name,
            grantTypes: created.grantTypes,
            authMethod: created.authMethod,
            apiAccess: created.apiAccess,
            ...(created.tlsSubject ? { tlsSubject: created.tlsSubject } : {}),
            ...(created.senderConstraint ? { senderConstraint: created.senderConstraint } : {}),
            rateLimit: created.rateLimit,
            ...(created.profile === 'default' ? {} : { profile: created.profile }),
            ...(created.requireSignedRequestObject ? { requireSignedRequestObject: true } : {}),
            ...(created.pkce === 'optional' ? { pkce: 'optional' } : {}),
            ...(Object.keys(created.signing).length ? { signing: created.signing } : {}),
            ...(created.backchannelLogoutUri
              ? { backchannelLogoutUri: created.backchannelLogoutUri }
              : {}),
            ...(created.frontchannelLogoutUri
              ? { frontchannelLogoutUri: created.frontchannelLogoutUri }
              : {}),
            ...(created.backchannel ? { backchannel: created.backchannel } : {}),
          },
        );
        print(opts.json, { ...clientJson(created), clientSecret: secret }, () => {
          for (const w of clientWarnings(created)) process.stderr.write(`warning: ${w}\n`);
          process.stdout.write(`client_id:     ${created.clientId}\n`);
          if (secret) {
            process.stdout.write(`client_secret: ${secret}\n`);
            process.stdout.write(
              'Store the secret now: it is not shown again (rotate it with "portcullis client rotate-secret").\n',
            );
          }
        });
      });
    });

  client
    .command('list')
    .description('list clients')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withApp(async (app) => {
        const list = await app.services.clients.list();
        print(opts.json, list.map(clientJson), () =>
          printTable(
            list.map((c) => ({
              ...c,
              client_id: c.clientId,
              auth: c.authMethod,
              grants: c.grantTypes,
              apis: Object.keys(c.apiAccess),
            })),
            ['client_id', 'name', 'profile', 'auth', 'grants', 'apis'],
          ),
        );
      });
    });

  client
    .command('show')
    .description('show one client')
    .argument('<client-id>')
    .option('--json', 'print as JSON')
    .action(async (clientId: string, opts: { json?: boolean }) => {
      await withApp(async (app) => {
        const found = await app.services.clients.get(clientId);
        if (!found) throw new CliError(`no client ${clientId}`);
        const warnings = clientWarnings(found);
        print(opts.json, { ...clientJson(found), warnings }, () => {
          const shown = { ...clientJson(found), rateLimit: rateLimitText(app, found) };
          for (const [k, v] of Object.entries(shown)) {
            process.stdout.write(
              `${k.padEnd(28)}${typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`,
            );
          }
          for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
        });
      });
    });

  registerClientUpdate(client);

  client
    .command('delete')
    .description('delete a client')
    .argument('<client-id>')
    .action(async (clientId: string) => {
      await withApp(async (app) => {
        await app.services.clients.delete(clientId);
        await auditChange(app, 'client.deleted', { type: 'client', id: clientId });
        process.stdout.write(`deleted client ${clientId}\n`);
      });
    });

  client
    .command('rotate-secret')
    .description("replace a client's secret; prints the new one once")
    .argument('<client-id>')
    .option('--json', 'print as JSON')
    .action(async (clientId: string, opts: { json?: boolean }) => {
      await withApp(async (app) => {
        const secret = await app.services.clients.rotateSecret(clientId);
        await auditChange(app, 'client.secret_rotated', { type: 'client', id: clientId });
        print(opts.json, { clientId, clientSecret: secret }, () =>
          process.stdout.write(`client_secret: ${secret}\n`),
        );
      });
    });
}
