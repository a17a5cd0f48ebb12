// `portcullis api create|update|list|show|delete` and `api resource-server add|remove`: the API
// catalogue, which clients may introspect each API's tokens, and the authorization detail types
// each API accepts.
import type { Command } from 'commander';
import type { App } from '../../app.ts';
import { DETAIL_TYPES } from '../../consents/detailTypes.ts';
import { DomainError } from '../../errors.ts';
import {
  type Api,
  type ApiScope,
  checkResourceServerClients,
  validateResourceServers,
} from '../../oidc/catalogue.ts';
import { auditChange, withApp } from '../context.ts';
import { CliError, print, printTable } from '../output.ts';
import { detailFacts, registerApiUpdate } from './apiUpdate.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** "accounts:read=Read your accounts" -> { name, description } */
export function parseScopeArg(arg: string): { name: string; description: string } {
  const eq = arg.indexOf('=');
  if (eq <= 0 || eq === arg.length - 1) {
    throw new CliError(`--scope "${arg}" must look like 'name=Description people read'`);
  }
  return { name: arg.slice(0, eq).trim(), description: arg.slice(eq + 1).trim() } as ApiScope;
}

/** Applies "--level payments:write=2" to the scope it names. */
export function applyLevels(scopes: ApiScope[], levels: string[]): ApiScope[] {
  for (const arg of levels) {
    const match = /^(.+)=([123])$/.exec(arg);
    if (!match) throw new CliError(`--level "${arg}" must look like 'scope=2' (levels 1, 2 or 3)`);
    const scope = scopes.find((s) => s.name === match[1]);
    if (!scope)
      throw new CliError(`--level names ${match[1]}, which is not one of the --scope values`);
    scope.requiredLevel = Number(match[2]) as 1 | 2 | 3;
  }
  return scopes;
}

/**
 * Refuses client ids that are malformed, repeated, unknown or public before anything is written,
 * with `label` (the option they came from, if any) in front of the message.
 */
async function checkClients(app: App, clientIds: string[], label?: string): Promise<void> {
  try {
    validateResourceServers(clientIds);
    await checkResourceServerClients(clientIds, (id) => app.services.clients.get(id));
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    const hint = err.message.startsWith('no client ') ? ' (see "portcullis client list")' : '';
    throw new CliError(`${label ? `${label}: ` : ''}${err.message}${hint}`);
  }
}

async function findApi(app: App, identifier: string): Promise<Api> {
  const found = await app.services.catalogue.findByIdentifier(identifier);
  if (!found)
    throw new CliError(`no API with identifier ${identifier} (see "portcullis api list")`);
  return found;
}

const listed = (ids: string[]) => (ids.length ? ids.join(', ') : '(none)');

const apiJson = (a: Api) => ({
  ...a,
  consentScope: a.consentScope ?? null,
  createdAt: a.createdAt.toISOString(),
  updatedAt: a.updatedAt.toISOString(),
});

export function registerApiCommands(program: Command): void {
  const api = program
    .command('api')
    .description('manage the APIs (resource servers) tokens are issued for');

  api
    .command('create')
    .description('register an API with its scopes')
    .requiredOption(
      '--identifier <uri>',
      'the API identifier URI (token audience, RFC 8707 resource)',
    )
    .option('--name <name>', 'a name people read')
    .requiredOption('--scope <name=description>', 'a scope and its description (repeat)', collect)
    .option(
      '--level <scope=level>',
      'assurance level a scope needs: 1 password, 2 second factor, 3 phishing-resistant (repeat)',
      collect,
    )
    .option('--format <format>', 'access token format: jwt or opaque', 'jwt')
    .option('--ttl <seconds>', 'access token lifetime in seconds', '600')
    .option(
      '--resource-server <client-id>',
      "a confidential client allowed to introspect this API's tokens (repeat; default none)",
      collect,
    )
    .option(
      '--detail-type <type>',
      `an authorization detail type (RFC 9396) this API accepts: ${DETAIL_TYPES.join(' or ')} (repeat; each type belongs to one API)`,
      collect,
    )
    .option(
      '--consent-scope <scope>',
      "the scope (one of --scope) a resource server's client-credentials token needs to read and consume this API's consents; required with --detail-type",
    )
    .option('--public', 'advertise its scopes in discovery (scopes_supported)')
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: {
        identifier: string;
        name?: string;
        public?: boolean;
        scope: string[];
        level?: string[];
        format: string;
        ttl: string;
        resourceServer?: string[];
        detailType?: string[];
        consentScope?: string;
        json?: boolean;
      }) => {
        if (opts.format !== 'jwt' && opts.format !== 'opaque')
          throw new CliError('--format must be jwt or opaque');
        if (!/^\d+$/.test(opts.ttl)) throw new CliError('--ttl must be a whole number of seconds');
        const scopes = applyLevels(opts.scope.map(parseScopeArg), opts.level ?? []);
        const resourceServers = opts.resourceServer ?? [];
        await withApp(async (app) => {
          await checkClients(app, resourceServers, '--resource-server');
          const created = await app.services.catalogue.create({
            identifier: opts.identifier,
            name: opts.name,
            tokenFormat: opts.format as 'jwt' | 'opaque',
            accessTokenTtl: Number(opts.ttl),
            scopes,
            resourceServers,
            detailTypes: opts.detailType ?? [],
            consentScope: opts.consentScope,
            public: opts.public === true,
          });
          await auditChange(
            app,
            'api.created',
            { type: 'api', id: created.identifier },
            {
              scopes: created.scopes,
              resourceServers: created.resourceServers,
              ...detailFacts(created),
              public: created.public,
            },
          );
          print(opts.json, apiJson(created), () => {
            process.stdout.write(
              `created API ${created.identifier} with scopes ${created.scopes.map((s) => s.name).join(', ')}\n`,
            );
            if (created.resourceServers.length)
              process.stdout.write(`resource servers: ${listed(created.resourceServers)}\n`);
            if (created.detailTypes.length)
              process.stdout.write(
                `detail types: ${listed(created.detailTypes)} (consent scope ${created.consentScope})\n`,
              );
          });
        });
      },
    );

  api
    .command('list')
    .description('list registered APIs')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      await withApp(async (app) => {
        const apis = await app.services.catalogue.list();
        print(opts.json, apis.map(apiJson), () =>
          printTable(
            apis.map((a) => ({
              ...a,
              scopes: a.scopes.map((s) => s.name),
              ttl: a.accessTokenTtl,
              format: a.tokenFormat,
              resource_servers: a.resourceServers,
              detail_types: a.detailTypes,
            })),
            ['identifier', 'name', 'format', 'ttl', 'scopes', 'resource_servers', 'detail_types'],
          ),
        );
      });
    });

  api
    .command('show')
    .description(
      'show one API: its scopes, the level each needs, its resource servers and detail types',
    )
    .requiredOption('--identifier <uri>', 'the API identifier URI')
    .option('--json', 'print as JSON')
    .action(async (opts: { identifier: string; json?: boolean }) => {
      await withApp(async (app) => {
        const found = await findApi(app, opts.identifier);
        print(opts.json, apiJson(found), () => {
          const line = (k: string, v: string) => process.stdout.write(`${k.padEnd(18)}${v}\n`);
          line('identifier', found.identifier);
          line('name', found.name);
          line('format', found.tokenFormat);
          line('ttl', String(found.accessTokenTtl));
          for (const s of found.scopes)
            line('scope', `${s.name} (level ${s.requiredLevel ?? 1}): ${s.description}`);
          line('resource servers', listed(found.resourceServers));
          line('detail types', listed(found.detailTypes));
          line('consent scope', found.consentScope ?? '(none)');
          line('public', found.public ? 'yes (scopes in discovery)' : 'no');
        });
      });
    });

  registerApiUpdate(api, findApi);

  const resourceServer = api
    .command('resource-server')
    .description(
      "declare which clients may introspect an API's tokens (its resource servers); " +
        'every client may always introspect its own tokens',
    );

  resourceServer
    .command('add')
    .description("allow confidential clients to introspect this API's access tokens")
    .requiredOption('--identifier <uri>', 'the API identifier URI')
    .argument('<client-id...>', 'the clients (see "portcullis client list")')
    .option('--json', 'print the API as JSON')
    .action(async (clientIds: string[], opts: { identifier: string; json?: boolean }) => {
      await withApp(async (app) => {
        const found = await findApi(app, opts.identifier);
        await checkClients(app, clientIds);
        const { api: changed, before } = await app.services.catalogue.changeResourceServers(
          found.id,
          { add: clientIds },
        );
        await recordChange(app, changed, before);
        print(opts.json, apiJson(changed), () =>
          process.stdout.write(
            `resource servers of ${changed.identifier}: ${listed(changed.resourceServers)}\n`,
          ),
        );
      });
    });

  resourceServer
    .command('remove')
    .description("stop clients introspecting this API's tokens (they keep seeing their own)")
    .requiredOption('--identifier <uri>', 'the API identifier URI')
    .argument('<client-id...>', 'the clients')
    .option('--json', 'print the API as JSON')
    .action(async (clientIds: string[], opts: { identifier: string; json?: boolean }) => {
      await withApp(async (app) => {
        const found = await findApi(app, opts.identifier);
        const absent = clientIds.find((id) => !found.resourceServers.includes(id));
        if (absent)
          throw new CliError(`client ${absent} is not a resource server of ${found.identifier}`);
        const { api: changed, before } = await app.services.catalogue.changeResourceServers(
          found.id,
          { remove: clientIds },
        );
        await recordChange(app, changed, before);
        print(opts.json, apiJson(changed), () =>
          process.stdout.write(
            `resource servers of ${changed.identifier}: ${listed(changed.resourceServers)}\n`,
          ),
        );
      });
    });

  api
    .command('delete')
    .description('remove an API from the catalogue')
    .requiredOption('--identifier <uri>', 'the API identifier URI')
    .action(async (opts: { identifier: string }) => {
      await withApp(async (app) => {
        const found = await app.services.catalogue.findByIdentifier(opts.identifier);
        if (!found) throw new CliError(`no API with identifier ${opts.identifier}`);
        await app.services.catalogue.delete(found.id);
        await auditChange(
          app,
          'api.deleted',
          { type: 'api', id: found.identifier },
          {
            scopes: found.scopes.map((s) => s.name),
            resourceServers: found.resourceServers,
            ...detailFacts(found),
          },
        );
        process.stdout.write(`deleted API ${opts.identifier}\n`);
      });
    });
}

/** Records a change of an API's resource servers (nothing when nothing changed). */
async function recordChange(app: App, api: Api, before: string[]): Promise<void> {
  if (before.join(' ') === api.resourceServers.join(' ')) return;
  await auditChange(
    app,
    'api.updated',
    { type: 'api', id: api.identifier },
    { before: { resourceServers: before }, after: { resourceServers: api.resourceServers } },
  );
}
