// `portcullis api create|list|delete`: the API catalogue.
import type { Command } from 'commander';
import type { Api, ApiScope } from '../../oidc/catalogue.ts';
import { auditChange, withApp } from '../context.ts';
import { CliError, print, printTable } from '../output.ts';

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

const apiJson = (a: Api) => ({
  ...a,
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
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: {
        identifier: string;
        name?: string;
        scope: string[];
        level?: string[];
        format: string;
        ttl: string;
        json?: boolean;
      }) => {
        if (opts.format !== 'jwt' && opts.format !== 'opaque')
          throw new CliError('--format must be jwt or opaque');
        if (!/^\d+$/.test(opts.ttl)) throw new CliError('--ttl must be a whole number of seconds');
        const scopes = applyLevels(opts.scope.map(parseScopeArg), opts.level ?? []);
        await withApp(async (app) => {
          const created = await app.services.catalogue.create({
            identifier: opts.identifier,
            name: opts.name,
            tokenFormat: opts.format as 'jwt' | 'opaque',
            accessTokenTtl: Number(opts.ttl),
            scopes,
          });
          await auditChange(
            app,
            'api.created',
            { type: 'api', id: created.identifier },
            { scopes: created.scopes },
          );
          print(opts.json, apiJson(created), () => {
            process.stdout.write(
              `created API ${created.identifier} with scopes ${created.scopes.map((s) => s.name).join(', ')}\n`,
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
            })),
            ['identifier', 'name', 'format', 'ttl', 'scopes'],
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
          { scopes: found.scopes.map((s) => s.name) },
        );
        process.stdout.write(`deleted API ${opts.identifier}\n`);
      });
    });
}
