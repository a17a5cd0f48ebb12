// `portcullis api update`: changes an API's name, token format and lifetime, the authorization
// detail types it accepts (RFC 9396) and the scope that reads and consumes their consents.
import type { Command } from 'commander';
import type { App } from '../../app.ts';
import type { Api } from '../../oidc/catalogue.ts';
import { auditChange, withApp } from '../context.ts';
import { CliError, print } from '../output.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The detail-type facts of an API for its audit events. */
export const detailFacts = (a: Api) => ({
  detailTypes: a.detailTypes,
  consentScope: a.consentScope ?? null,
});

const described = (a: Api) => ({
  name: a.name,
  format: a.tokenFormat,
  lifetime: a.accessTokenTtl,
  ...detailFacts(a),
  public: a.public,
});

export function registerApiUpdate(
  api: Command,
  findApi: (app: App, identifier: string) => Promise<Api>,
): void {
  api
    .command('update')
    .description(
      "change an API's name, token format or lifetime, detail types or consent scope (scopes: admin API)",
    )
    .requiredOption('--identifier <uri>', 'the API identifier URI')
    .option('--name <name>', 'a name people read')
    .option('--format <format>', 'access token format: jwt or opaque')
    .option('--ttl <seconds>', 'access token lifetime in seconds')
    .option(
      '--detail-type <type>',
      'an authorization detail type this API accepts (repeat; replaces the list)',
      collect,
    )
    .option('--no-detail-types', 'the API accepts no detail type any more')
    .option('--consent-scope <scope>', 'the scope that reads and consumes its consents')
    .option('--no-consent-scope', 'remove the consent scope (only without detail types)')
    .option('--public', 'advertise its scopes in discovery (scopes_supported)')
    .option('--no-public', 'stop advertising its scopes in discovery')
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: {
        identifier: string;
        name?: string;
        format?: string;
        ttl?: string;
        detailType?: string[];
        detailTypes?: boolean;
        consentScope?: string | false;
        public?: boolean;
        json?: boolean;
      }) => {
        if (opts.format !== undefined && opts.format !== 'jwt' && opts.format !== 'opaque')
          throw new CliError('--format must be jwt or opaque');
        if (opts.ttl !== undefined && !/^\d+$/.test(opts.ttl))
          throw new CliError('--ttl must be a whole number of seconds');
        if (opts.detailType && opts.detailTypes === false)
          throw new CliError('--detail-type and --no-detail-types cannot go together');
        const patch = {
          ...(opts.name !== undefined && { name: opts.name }),
          ...(opts.format !== undefined && { tokenFormat: opts.format as 'jwt' | 'opaque' }),
          ...(opts.ttl !== undefined && { accessTokenTtl: Number(opts.ttl) }),
          ...(opts.detailType && { detailTypes: opts.detailType }),
          ...(opts.detailTypes === false && { detailTypes: [] }),
          ...(opts.consentScope !== undefined && { consentScope: opts.consentScope || null }),
          ...(opts.public !== undefined && { public: opts.public }),
        };
        if (Object.keys(patch).length === 0)
          throw new CliError('nothing to change (see "portcullis api update --help")');
        await withApp(async (app) => {
          const before = await findApi(app, opts.identifier);
          const after = await app.services.catalogue.update(before.id, patch);
          await auditChange(
            app,
            'api.updated',
            { type: 'api', id: after.identifier },
            { before: described(before), after: described(after) },
          );
          print(
            opts.json,
            {
              ...after,
              consentScope: after.consentScope ?? null,
              createdAt: after.createdAt.toISOString(),
              updatedAt: after.updatedAt.toISOString(),
            },
            () =>
              process.stdout.write(
                `updated API ${after.identifier}: ${after.public ? 'public' : 'not public'}, detail types ${after.detailTypes.join(', ') || '(none)'}, consent scope ${after.consentScope ?? '(none)'}\n`,
              ),
          );
        });
      },
    );
}
